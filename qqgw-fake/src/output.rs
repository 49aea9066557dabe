//! What the model of QQ asks its transport to do, and what it observed.

use qqgw_proto::{CloseCode, Instant};

/// A connection, as the model numbers them (from 0, in the order they were opened).
pub type ConnId = usize;

/// What the model asks of its transport, in order. Drain them with
/// [`Qq::poll_output`](crate::Qq::poll_output) after every call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this text frame on the connection.
    Send(ConnId, String),
    /// Send a close frame with this code, then end the connection.
    Close(ConnId, CloseCode),
    /// End the connection's TCP stream without a close frame.
    Drop(ConnId),
    /// Go silent on the connection: send nothing more, answer nothing, keep it open — a
    /// dead peer, as the client sees it.
    Silence(ConnId),
    /// Something a test may want to know (see [`Note`]).
    Note(Note),
}

/// What the model observed: what the client did, and what QQ did about it. Transports
/// keep the ones their tests assert on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Note {
    /// A token request was answered.
    Token {
        /// When.
        at: Instant,
        /// The AppID asked for, if the body had one.
        app_id: Option<String>,
        /// What came of it.
        outcome: TokenOutcome,
    },
    /// A heartbeat arrived: its `d`, and the shard of its connection once known.
    Heartbeat {
        /// When.
        at: Instant,
        /// The connection.
        conn: ConnId,
        /// The shard it authenticated as, if it has.
        shard: Option<u32>,
        /// `d` (`None` for `null`).
        seq: Option<u64>,
    },
    /// An IDENTIFY arrived (accepted or not).
    Identify {
        /// When.
        at: Instant,
        /// The connection.
        conn: ConnId,
        /// `d.shard`; `[0, 0]` if missing or malformed.
        shard: [u32; 2],
        /// `d.intents`; 0 if missing.
        intents: u32,
        /// `d.token`.
        token: String,
    },
    /// A RESUME arrived (accepted or not).
    Resume {
        /// When.
        at: Instant,
        /// The connection.
        conn: ConnId,
        /// `d.session_id`.
        session_id: String,
        /// `d.seq`; 0 if missing.
        seq: u64,
        /// `d.token`.
        token: String,
    },
    /// The connection now serves `session_id` of `shard`: READY (`ready`) or RESUMED was
    /// sent, after `replayed` replayed events.
    Attached {
        /// The connection.
        conn: ConnId,
        /// The shard.
        shard: u32,
        /// The session.
        session_id: String,
        /// READY (a new session) rather than RESUMED.
        ready: bool,
        /// How many events were replayed before RESUMED.
        replayed: u64,
    },
    /// A RESUME was not answered with the replay and RESUMED.
    ResumeRefused {
        /// When.
        at: Instant,
        /// The connection.
        conn: ConnId,
        /// Why.
        why: ResumeRefusal,
    },
    /// An IDENTIFY broke `session_start_limit`.
    Pacing {
        /// When.
        at: Instant,
        /// The shard.
        shard: u32,
        /// How.
        kind: PacingKind,
    },
    /// A frame a correct client never sends.
    ProtocolError {
        /// When.
        at: Instant,
        /// The connection.
        conn: ConnId,
        /// The shard of the connection, if known.
        shard: Option<u32>,
        /// What was wrong.
        reason: String,
        /// The frame's first 200 characters.
        frame: String,
    },
    /// An event scripted for `shard` was not sent: its session's intents do not cover it.
    Filtered {
        /// The shard.
        shard: u32,
        /// The event name.
        name: String,
    },
}

/// What came of a token request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenOutcome {
    /// A token was handed out: a new one (`fresh`) or the current one again.
    Issued {
        /// The token.
        token: String,
        /// `expires_in`, in seconds.
        expires_in: u64,
        /// Whether it was issued by this request.
        fresh: bool,
    },
    /// Refused with QQ's code (100016 wrong secret, 100007 bad request).
    Rejected {
        /// The code.
        code: i64,
    },
    /// Answered with QQ's rate limit (100001).
    RateLimited,
    /// Answered HTTP 500.
    Failed,
}

/// Why QQ refused a RESUME.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResumeRefusal {
    /// Its token was not valid: closed with 4004.
    Token,
    /// QQ never started this session, or ended it: op 9 `false`.
    Unknown,
    /// The session waited without a connection past the resume window: op 9 `false`.
    Expired,
    /// Its `seq` is past the last one QQ sent: closed with 4007.
    PastLastSeq,
    /// The events after its `seq` no longer fit the replay buffer: closed with 4007.
    Forgotten,
    /// As scripted ([`Qq::refuse_resumes`](crate::Qq::refuse_resumes)).
    Scripted(crate::Refusal),
}

/// How an IDENTIFY broke `session_start_limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacingKind {
    /// More than `max_concurrency` IDENTIFYs within 5 s: `in_window` came before it.
    Concurrency {
        /// IDENTIFYs already in the window.
        in_window: u32,
        /// The limit.
        max_concurrency: u32,
    },
    /// `remaining` was 0 (the IDENTIFY is closed with 4008).
    Exhausted,
}
