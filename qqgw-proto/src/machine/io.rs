//! What goes into the machine and what comes out.

use std::fmt;

use crate::close::{CloseCode, CloseFrame};
use crate::dispatch::{Ack, Dispatch};
use crate::error::{DecodeError, FatalError, TokenError};
use crate::limiter::{PacerAnswer, PacerRequest};
use crate::machine::State;
use crate::session::Session;
use crate::time::Instant;
use crate::token::AccessToken;

/// Something that happened, told to [`GatewayMachine::handle_input`](crate::GatewayMachine::handle_input).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Input<'a> {
    /// The WebSocket connection asked for by [`Output::Connect`] is open.
    Connected,
    /// The connection asked for by [`Output::Connect`] could not be opened (DNS, TCP, TLS,
    /// WebSocket handshake, or the adapter's connect timeout).
    ConnectFailed,
    /// A text frame.
    Text(&'a str),
    /// A binary frame. QQ sends text; a binary frame is read as UTF-8 JSON if it is.
    Binary(&'a [u8]),
    /// The connection is gone: the peer's close frame, or `None` when it dropped without
    /// one. Also reported after an [`Output::Close`], once the socket is closed.
    Closed(Option<CloseFrame<'a>>),
    /// An access token, in answer to [`Output::RefreshToken`] (or at any time).
    Token(AccessToken),
    /// No access token could be had, in answer to [`Output::RefreshToken`].
    TokenFailed(TokenError),
    /// The identify pacer's answer to [`Output::Pacer`]`(`[`PacerRequest::Acquire`]`)`.
    /// Accepted in any state: a slot granted when none is wanted any more (the machine
    /// closed meanwhile) is given back with [`PacerRequest::Release`].
    Pacer(PacerAnswer),
    /// The application finished with the event of this receipt
    /// ([`Dispatch::ack`](crate::Dispatch::ack)); the [checkpoint] moves past it once every
    /// event before it is handled too. Accepted in any state, after the machine stopped
    /// included (events finish after a graceful close).
    ///
    /// [checkpoint]: crate::GatewayMachine::checkpoint
    Handled(Ack),
    /// `true` when the adapter stops reading frames because its consumer lags, `false`
    /// when it reads again. While reading is paused nothing can show the link is alive,
    /// so no zombie is declared and the handshake timeout waits.
    ReadPaused(bool),
}

impl Input<'_> {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Input::Connected => "Connected",
            Input::ConnectFailed => "ConnectFailed",
            Input::Text(_) => "Text",
            Input::Binary(_) => "Binary",
            Input::Closed(_) => "Closed",
            Input::Token(_) => "Token",
            Input::TokenFailed(_) => "TokenFailed",
            Input::Pacer(_) => "Pacer",
            Input::Handled(_) => "Handled",
            Input::ReadPaused(_) => "ReadPaused",
        }
    }
}

/// What the machine wants done, from [`GatewayMachine::poll_output`](crate::GatewayMachine::poll_output).
///
/// Not `#[non_exhaustive]`: the drain contract says every output must be acted on, so a
/// new one is a breaking change the compiler shows every driver.
///
/// Its `Debug` never shows the access token: the IDENTIFY and RESUME frames a
/// [`Send`](Output::Send) carries are printed with their `token` redacted, so an adapter
/// that logs its outputs leaks nothing.
#[must_use = "every output must be acted on"]
pub enum Output {
    /// Open a WebSocket connection to this URL, then report [`Input::Connected`] or
    /// [`Input::ConnectFailed`]. Bound the attempt with a timeout of your own.
    Connect(String),
    /// Send this text frame on the open connection.
    Send(String),
    /// Send this close frame on the open connection and keep reading until the server
    /// answers it or the socket ends, then report [`Input::Closed`]. Frames that still
    /// arrive meanwhile are ignored. If the server takes too long, the machine gives up
    /// with [`Output::Abandon`]: the adapter needs no timeout of its own.
    Close(CloseFrame<'static>),
    /// Drop the open connection at once, without a close handshake: the peer is gone
    /// (a zombie), too slow (no READY in time, no answer to a close), or not worth
    /// waiting for. Report nothing more about that connection; the machine has already
    /// moved on.
    Abandon,
    /// Hand this event to the application.
    Emit(Event),
    /// Fetch a fresh access token, then report [`Input::Token`] or [`Input::TokenFailed`].
    RefreshToken,
    /// Tell the identify pacer (an [`IdentifyLimiter`](crate::IdentifyLimiter), or one
    /// shared by many processes); for [`PacerRequest::Acquire`], report its answer with
    /// [`Input::Pacer`].
    Pacer(PacerRequest),
    /// Nothing more to do now: wait for input, and call
    /// [`handle_timeout`](crate::GatewayMachine::handle_timeout) at this instant if given.
    /// Always later than the last `now` the machine was told.
    Sleep(Option<Instant>),
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Output::Connect(url) => f.debug_tuple("Connect").field(url).finish(),
            Output::Send(text) => f.debug_tuple("Send").field(&RedactedFrame(text)).finish(),
            Output::Close(frame) => f.debug_tuple("Close").field(frame).finish(),
            Output::Abandon => f.write_str("Abandon"),
            Output::Emit(event) => f.debug_tuple("Emit").field(event).finish(),
            Output::RefreshToken => f.write_str("RefreshToken"),
            Output::Pacer(request) => f.debug_tuple("Pacer").field(request).finish(),
            Output::Sleep(at) => f.debug_tuple("Sleep").field(at).finish(),
        }
    }
}

/// An outgoing frame, printed with the value of any `token` field replaced.
struct RedactedFrame<'a>(&'a str);

impl fmt::Debug for RedactedFrame<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0;
        let lower = text.to_ascii_lowercase();
        if !lower.contains("token") && !lower.contains("qqbot") {
            return fmt::Debug::fmt(text, f);
        }
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(mut frame) => {
                if let Some(token) = frame.pointer_mut("/d/token") {
                    *token = serde_json::Value::from("<redacted>");
                    return fmt::Debug::fmt(&frame.to_string(), f);
                }
                write!(f, "<{} bytes, withheld: may hold a token>", text.len())
            }
            Err(_) => write!(f, "<{} bytes, withheld: may hold a token>", text.len()),
        }
    }
}

/// Something for the application.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// An event from QQ (op 0), READY and RESUMED included. Each is emitted once: replays
    /// after a RESUME, and events QQ pushes twice under one id, are dropped and counted.
    Dispatch(Dispatch),
    /// The connection ended; the machine will reconnect as described.
    Disconnected(Disconnect),
    /// QQ sent a frame the machine could not use; the connection goes on.
    DecodeFailed(DecodeError),
    /// Renewing the access token failed for a reason that may pass (see
    /// [`TokenError::Unavailable`]) while the token held is still valid: the machine goes
    /// on with it and asks again at the next attempt.
    TokenRefreshFailed(TokenError),
    /// The machine stopped for good. Always the last event.
    Fatal(FatalError),
    /// A graceful [`close`](crate::GatewayMachine::close) finished. Always the last event.
    /// Carries the session as of the close, to resume after a restart; receipts of
    /// events still being handled move [`session`](crate::GatewayMachine::session) on.
    Closed(Option<Session>),
    /// A session could not be resumed (op 9 `false`, a RESUME refused, a close code that
    /// ends it): events QQ sent after its checkpoint may never arrive. Carries the session
    /// as it was, its `seq` the last handled one. The next connection IDENTIFYs afresh.
    ///
    /// Also reported, with an empty `id` and `seq` 0, when an IDENTIFY got no READY before
    /// its connection ended (a timeout, a drop, a close; not op 9, which refuses it): QQ
    /// may have started a session whose READY and first events never arrived, and the
    /// next IDENTIFY ends it, so those events are lost and nothing can name them.
    SessionLost(Session),
}

/// Why a connection ended, and what comes next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Disconnect {
    /// Why.
    pub cause: DisconnectCause,
    /// What the next connection will send.
    pub next: Reconnect,
    /// When the next attempt begins (it may first fetch a token or wait for an IDENTIFY slot).
    pub at: Instant,
}

/// How the next connection authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reconnect {
    /// RESUME the session.
    Resume,
    /// IDENTIFY afresh.
    Identify,
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectCause {
    /// QQ closed it with this frame.
    Closed(CloseFrame<'static>),
    /// It dropped without a close frame.
    Dropped,
    /// It could not be opened.
    ConnectFailed,
    /// QQ asked for a reconnect (op 7).
    ReconnectRequested,
    /// QQ said the session is invalid (op 9); `resumable` is its `d == true`.
    InvalidSession {
        /// Whether QQ allowed a RESUME.
        resumable: bool,
    },
    /// A heartbeat went unacknowledged until the next one was due, and no frame arrived
    /// since it was sent.
    Zombie,
    /// READY or RESUMED did not arrive within the handshake timeout.
    HandshakeTimeout,
    /// No access token could be had for the attempt (not a connection that ended, but an
    /// attempt that could not start).
    TokenUnavailable(String),
}

impl DisconnectCause {
    /// Whether this is QQ's routine business rather than trouble: its session rotation
    /// (op 7, close 4009) or its answer to a RESUME or IDENTIFY (op 9, whose lost session,
    /// if any, is reported on its own as [`Event::SessionLost`]). Adapters log these at a
    /// lower level.
    ///
    /// ```
    /// use qqgw_proto::{CloseCode, CloseFrame, DisconnectCause};
    ///
    /// assert!(DisconnectCause::ReconnectRequested.is_routine());
    /// assert!(DisconnectCause::Closed(CloseFrame::new(CloseCode::SESSION_TIMED_OUT.0, "")).is_routine());
    /// assert!(!DisconnectCause::Zombie.is_routine());
    /// ```
    #[must_use]
    pub fn is_routine(&self) -> bool {
        match self {
            Self::ReconnectRequested | Self::InvalidSession { .. } => true,
            Self::Closed(frame) => frame.code == CloseCode::SESSION_TIMED_OUT,
            _ => false,
        }
    }
}

/// The caller used the machine in a way its contract forbids. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// The machine has stopped for good (after [`Event::Fatal`](crate::Event::Fatal) or
    /// [`Event::Closed`](crate::Event::Closed)); only getters may be used.
    #[error("the gateway machine has stopped; no more input is accepted")]
    Terminated,
    /// The input does not fit the machine's state, e.g. `Connected` when no connection was
    /// asked for, or a frame while no connection is open.
    #[error("input `{input}` is not expected in state {state:?}")]
    UnexpectedInput {
        /// The input's name.
        input: &'static str,
        /// The state the machine was in.
        state: State,
    },
}
