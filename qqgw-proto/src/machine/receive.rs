//! What the server sends on an open connection: HELLO and the IDENTIFY or RESUME it
//! answers, heartbeats and their acknowledgements, dispatches and what they deliver.

use serde_json::value::RawValue;

use super::connection::Plan;
use super::delivery::Arrival;
use super::state::{Closing, Phase};
use super::{DisconnectCause, Event, GatewayMachine, Output, Timer};
use crate::close::CloseFrame;
use crate::dispatch::Dispatch;
use crate::envelope::Envelope;
use crate::error::{DecodeError, snippet};
use crate::incoming::{self, DEFAULT_HEARTBEAT_INTERVAL, MAX_HEARTBEAT_INTERVAL};
use crate::limiter::PacerRequest;
use crate::opcode::OpCode;
use crate::outgoing;
use crate::session::Session;

impl GatewayMachine {
    /// A text frame on an open connection (a binary one, once read as UTF-8).
    pub(super) fn on_text(&mut self, text: &str) {
        if matches!(self.phase, Phase::Closing(_)) {
            return; // in flight before our close; QQ replays what matters after a RESUME
        }
        self.conn.heard_since_beat = true;
        let env = match Envelope::parse(text) {
            Ok(env) => env,
            Err(error) => return self.decode_failed(error),
        };
        match OpCode::from_u64(env.op) {
            Some(OpCode::Dispatch) if matches!(self.phase, Phase::AwaitingHello) => {
                let name = env.t.as_deref().unwrap_or_default().to_owned();
                self.decode_failed(DecodeError::DispatchBeforeHello { name });
            }
            Some(OpCode::Dispatch) => self.on_dispatch(&env),
            Some(OpCode::Hello) => self.on_hello(env.d),
            Some(OpCode::HeartbeatAck) => self.on_heartbeat_ack(),
            // QQ asks for a heartbeat; there is none to send before HELLO. The beat counts
            // as ours: the next one is due an interval later.
            Some(OpCode::Heartbeat) if !matches!(self.phase, Phase::AwaitingHello) => self.send_heartbeat(),
            Some(OpCode::Heartbeat) => {}
            Some(OpCode::Reconnect) => {
                self.start_close(CloseFrame::RESUME, Closing::ReconnectRequested);
            }
            Some(OpCode::InvalidSession) => {
                let resumable = incoming::invalid_session_resumable(env.d);
                let frame = if resumable { CloseFrame::RESUME } else { CloseFrame::NORMAL };
                self.start_close(frame, Closing::InvalidSession { resumable });
            }
            _ => self.decode_failed(DecodeError::UnexpectedOpcode { op: env.op }),
        }
    }

    /// HELLO: the heartbeat starts, and the IDENTIFY or RESUME of the plan goes out.
    fn on_hello(&mut self, d: Option<&RawValue>) {
        if !matches!(self.phase, Phase::AwaitingHello) {
            return self.decode_failed(DecodeError::UnexpectedHello);
        }
        let interval = match incoming::hello_interval(d) {
            Some(interval) => interval.clamp(self.config.min_heartbeat_interval, MAX_HEARTBEAT_INTERVAL),
            None => {
                self.decode_failed(DecodeError::InvalidHello {
                    snippet: snippet(d.map_or("", RawValue::get)),
                });
                DEFAULT_HEARTBEAT_INTERVAL
            }
        };
        self.conn.heartbeat_interval = Some(interval);
        self.timers.set(Timer::Heartbeat, self.now + interval);
        let resume = match (&self.session_id, self.conn.plan) {
            (Some(id), Plan::Resume) => Some(outgoing::resume(
                &self.conn.authorization.0,
                &Session::at(id.as_str(), self.delivery.last_seq, self.config.shard),
            )),
            _ => None,
        };
        if let Some(frame) = resume {
            self.metrics.resumes += 1;
            self.out.push_back(Output::Send(frame));
            self.set_phase(Phase::Resuming);
        } else {
            self.forget_session();
            self.conn.plan = Plan::Identify;
            self.metrics.identifies += 1;
            let frame =
                outgoing::identify(&self.conn.authorization.0, self.config.intents, self.config.shard);
            self.out.push_back(Output::Send(frame));
            if let Some(slot) = self.conn.slot.take() {
                self.out.push_back(Output::Pacer(PacerRequest::Sent(slot)));
            }
            self.set_phase(Phase::Identifying);
        }
        self.conn.sent_auth = true;
    }

    fn on_heartbeat_ack(&mut self) {
        if let Some(sent) = self.conn.pending_ack.take() {
            self.latency.record_ack(sent, self.now);
            self.metrics.heartbeats_acked += 1;
        }
    }

    /// Sends a heartbeat now; the next is due an interval later.
    fn send_heartbeat(&mut self) {
        self.out.push_back(Output::Send(outgoing::heartbeat(self.delivery.last_seq)));
        self.metrics.heartbeats_sent += 1;
        self.latency.record_sent(self.now);
        self.conn.pending_ack = Some(self.now);
        self.conn.heard_since_beat = false;
        self.timers.set(Timer::Heartbeat, self.now + self.heartbeat_interval());
    }

    /// The heartbeat timer fired. A beat still unacknowledged with no frame received
    /// since it was sent means the link is dead; frames still arriving (a long replay
    /// with the ACK queued behind it) prove it lives.
    pub(super) fn on_heartbeat_due(&mut self) {
        // While the adapter does not read, silence proves nothing.
        if self.conn.is_silent() && !self.read_paused {
            self.metrics.zombies += 1;
            return self.abandon(DisconnectCause::Zombie);
        }
        self.send_heartbeat();
    }

    /// An op 0 frame: READY and RESUMED authenticate; any other event is delivered once.
    fn on_dispatch(&mut self, env: &Envelope<'_>) {
        let dispatch = match Dispatch::from_envelope(env, self.config.shard) {
            Ok(dispatch) => dispatch,
            Err(error) => {
                // QQ counts it as delivered; never ask for it again.
                if let Some(seq) = env.s {
                    self.delivery.advance(seq);
                }
                return self.decode_failed(error);
            }
        };
        if matches!(self.phase, Phase::Resuming) {
            self.on_progress(); // a replay under way
        }
        match dispatch.name() {
            "READY" => {
                match dispatch.ready_session_id() {
                    Some(id) => self.session_id = Some(id),
                    None => {
                        self.session_id = None;
                        self.decode_failed(DecodeError::InvalidReady {
                            snippet: snippet(dispatch.data().get()),
                        });
                    }
                }
                self.delivery.new_session();
                self.metrics.readies += 1;
                self.on_authenticated();
                let moved = dispatch.seq().is_some_and(|seq| self.note_seq(seq));
                self.deliver(dispatch, moved);
            }
            "RESUMED" => {
                self.metrics.resumed += 1;
                self.on_authenticated();
                // RESUMED may carry the next seq or none; an old one is not news.
                let moved = dispatch
                    .seq()
                    .filter(|&seq| !self.delivery.delivered(seq))
                    .is_some_and(|seq| self.note_seq(seq));
                self.deliver(dispatch, moved);
            }
            // Delivery is decided by event id; by seq only for events without one.
            _ => match self.delivery.arrival(dispatch.id(), dispatch.seq()) {
                Arrival::New => {
                    let moved = dispatch.seq().is_some_and(|seq| self.note_seq(seq));
                    self.deliver(dispatch, moved);
                }
                Arrival::Replay => self.metrics.replays_dropped += 1,
                Arrival::Duplicate => self.metrics.duplicates_dropped += 1,
            },
        }
    }

    /// Emits a dispatch; one that `moved` the sequence number is tracked until handled.
    fn deliver(&mut self, mut dispatch: Dispatch, moved: bool) {
        if let (true, true, Some(seq)) = (self.config.manual_ack, moved, dispatch.seq()) {
            let (ack, overflow) = self.delivery.track(seq);
            dispatch.set_ack(ack);
            self.metrics.unacked_overflows += u64::from(overflow);
        }
        self.metrics.events += 1;
        self.emit(Event::Dispatch(dispatch));
    }

    /// Moves the RESUME point to `seq` if it is plausible (see `Delivery::advance`);
    /// reports it if not. Returns whether it moved.
    fn note_seq(&mut self, seq: u64) -> bool {
        let last = self.delivery.last_seq;
        let moved = self.delivery.advance(seq);
        if !moved {
            self.decode_failed(DecodeError::ImplausibleSeq { seq, last });
        }
        moved
    }

    /// READY or RESUMED: events flow.
    fn on_authenticated(&mut self) {
        self.conn.authenticated = true;
        self.set_phase(Phase::Active);
        self.on_progress();
    }

    /// READY, RESUMED or a replayed event: the connection works. The failure count and
    /// the refused-RESUME count start over, and the handshake is over.
    fn on_progress(&mut self) {
        if self.conn.progress.is_none() {
            self.conn.progress = Some(self.now);
            self.reconnects.progress();
            self.timers.stop(Timer::Handshake);
        }
    }
}
