//! The network between the bot and the model of QQ: each connection's frames on their way
//! to the client, each after its own latency; what QQ's model asks for, carried out.

use std::collections::{BTreeMap, VecDeque};

use core::time::Duration;
use qqgw_fake::{ConnId, Note, Output, Qq};
use qqgw_proto::{CloseCode, CloseFrame, Instant};

use crate::rng::Rng;
use crate::world::{Ev, Sched};

/// Something on its way from QQ to the client.
#[derive(Debug, Clone)]
pub(crate) enum Msg {
    Text(String),
    Binary(Vec<u8>),
    Close(CloseFrame<'static>),
    /// The TCP connection ends without a close frame.
    Drop,
}

/// One connection, as the network carries it.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) shard: usize,
    /// The process incarnation that opened it.
    pub(crate) epoch: u64,
    /// QQ still sends on it.
    open: bool,
    latency: Duration,
    /// Frames in flight to the client, with when each can be read.
    queue: VecDeque<(Instant, Msg)>,
}

/// The model of QQ and the links to it.
#[derive(Debug)]
pub(crate) struct Net {
    pub(crate) qq: Qq,
    pub(crate) links: BTreeMap<ConnId, Link>,
    /// The most frames queued on one link.
    pub(crate) max_queue: usize,
    /// What QQ observed, for the world to check and count, in order.
    pub(crate) notes: VecDeque<(ConnId, Note)>,
    /// IDENTIFYs and RESUMEs closed with 4004 (their token had expired).
    pub(crate) auth_failures: u64,
    /// The connection of the last IDENTIFY or RESUME noted, until QQ's answer.
    authenticating: Option<ConnId>,
}

impl Net {
    pub(crate) fn new(qq: Qq) -> Self {
        Self {
            qq,
            links: BTreeMap::new(),
            max_queue: 0,
            notes: VecDeque::new(),
            auth_failures: 0,
            authenticating: None,
        }
    }

    /// A new connection of `shard`, opened by process `epoch`; QQ greets it with HELLO.
    pub(crate) fn open(
        &mut self,
        sched: &mut Sched,
        rng: &mut Rng,
        shard: usize,
        epoch: u64,
    ) -> Option<ConnId> {
        let id = self.qq.open(sched.now)?;
        let latency = Duration::from_millis(10 + rng.up_to(290));
        self.links.insert(id, Link { shard, epoch, open: true, latency, queue: VecDeque::new() });
        self.qq.hello(id);
        self.carry_out(sched);
        Some(id)
    }

    /// Carries out what QQ's model asked for.
    pub(crate) fn carry_out(&mut self, sched: &mut Sched) {
        while let Some(output) = self.qq.poll_output() {
            match output {
                Output::Send(id, frame) => self.push(sched, id, Msg::Text(frame)),
                Output::Close(id, code) => {
                    // QQ's answer to an IDENTIFY or RESUME whose token was not valid.
                    if code == CloseCode::AUTHENTICATION_FAILED && self.authenticating == Some(id) {
                        self.auth_failures += 1;
                    }
                    self.push(sched, id, Msg::Close(CloseFrame::new(code, code.description())));
                    self.qq_done(sched.now, id);
                }
                Output::Drop(id) => {
                    if let Some(link) = self.links.get_mut(&id) {
                        link.queue.clear(); // what was in flight is lost
                    }
                    self.push(sched, id, Msg::Drop);
                    self.qq_done(sched.now, id);
                }
                Output::Silence(id) => {
                    if let Some(link) = self.links.get_mut(&id) {
                        link.open = false;
                        link.queue.clear();
                    }
                }
                Output::Note(note) => {
                    let conn = match &note {
                        Note::Identify { conn, .. }
                        | Note::Resume { conn, .. }
                        | Note::Attached { conn, .. }
                        | Note::Heartbeat { conn, .. }
                        | Note::ProtocolError { conn, .. }
                        | Note::ResumeRefused { conn, .. } => *conn,
                        _ => usize::MAX,
                    };
                    match note {
                        Note::Identify { .. } | Note::Resume { .. } => self.authenticating = Some(conn),
                        Note::Attached { .. } => self.authenticating = None,
                        _ => {}
                    }
                    self.notes.push_back((conn, note));
                }
            }
        }
    }

    /// QQ is done with the connection: it sends nothing more after what is queued.
    fn qq_done(&mut self, now: Instant, id: ConnId) {
        if let Some(link) = self.links.get_mut(&id) {
            link.open = false;
        }
        self.qq.closed(now, id);
    }

    /// Puts a frame on its way to the client, if QQ still sends on the link.
    pub(crate) fn push(&mut self, sched: &mut Sched, id: ConnId, msg: Msg) {
        let now = sched.now;
        let Some(link) = self.links.get_mut(&id) else { return };
        if !link.open {
            return;
        }
        let at = now + link.latency;
        if link.queue.is_empty() {
            sched.at(at, Ev::Pump(id));
        }
        link.queue.push_back((at, msg));
        self.max_queue = self.max_queue.max(link.queue.len());
    }

    /// A frame from the client, read by QQ at once.
    pub(crate) fn client_text(&mut self, sched: &mut Sched, id: ConnId, text: &str) {
        if self.links.get(&id).is_some_and(|l| l.open) {
            self.qq.on_text(sched.now, id, text);
            self.carry_out(sched);
        }
    }

    /// The client sent a close frame: QQ answers it and is done.
    pub(crate) fn client_close(&mut self, sched: &mut Sched, id: ConnId, frame: CloseFrame<'static>) {
        self.push(sched, id, Msg::Close(frame));
        self.qq_done(sched.now, id);
    }

    /// The client dropped the socket, read its last frame, or its process died.
    pub(crate) fn abandoned(&mut self, now: Instant, id: ConnId) {
        self.qq_done(now, id);
        self.links.remove(&id);
    }

    /// Every link of process `epoch` is gone (its sockets died with it).
    pub(crate) fn process_died(&mut self, now: Instant, epoch: u64) {
        let ids: Vec<ConnId> =
            self.links.iter().filter(|(_, l)| l.epoch == epoch).map(|(&id, _)| id).collect();
        for id in ids {
            self.abandoned(now, id);
        }
    }

    /// A binary frame (QQ's model speaks text; junk is the network's to send).
    pub(crate) fn send_binary(&mut self, sched: &mut Sched, id: ConnId, bytes: Vec<u8>) -> bool {
        let open = self.links.get(&id).is_some_and(|l| l.open);
        self.push(sched, id, Msg::Binary(bytes));
        open
    }

    /// Whether QQ still sends on the link.
    pub(crate) fn is_open(&self, id: ConnId) -> bool {
        self.links.get(&id).is_some_and(|l| l.open)
    }

    /// The first frame of a link that may be read at `now`.
    pub(crate) fn pop_ready(&mut self, id: ConnId, now: Instant) -> Option<Msg> {
        let link = self.links.get_mut(&id)?;
        if link.queue.front().is_some_and(|(at, _)| *at <= now) {
            return link.queue.pop_front().map(|(_, m)| m);
        }
        None
    }

    /// When the next frame of a link can be read.
    pub(crate) fn next_ready(&self, id: ConnId) -> Option<Instant> {
        self.links.get(&id)?.queue.front().map(|(at, _)| *at)
    }
}
