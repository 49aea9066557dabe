//! What the mock saw: a snapshot tests assert on.

use std::fmt;
use std::time::Instant;

pub use qqgw_fake::{PacingKind, TokenOutcome};

/// Shard value of a heartbeat received before its connection authenticated and never
/// attributed (the connection closed before IDENTIFY or RESUME succeeded).
pub const UNKNOWN_SHARD: u32 = u32::MAX;

/// Everything the mock observed, in arrival order. [`MockGateway::record`] returns a
/// clone; [`MockGateway::wait_until`] waits for a condition on it.
///
/// [`MockGateway::record`]: crate::MockGateway::record
/// [`MockGateway::wait_until`]: crate::MockGateway::wait_until
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// Every WebSocket connection, in the order they were accepted (the index is the
    /// connection's number in [`ProtocolError::connection`]).
    pub connections: Vec<ConnectionRecord>,
    /// Every heartbeat: when, from which shard, and its `d` (`None` for `null`). A
    /// heartbeat received before its connection authenticated gets the shard once it
    /// does; until then the shard is [`UNKNOWN_SHARD`].
    pub heartbeats: Vec<(Instant, u32, Option<u64>)>,
    /// Every call of the token endpoint.
    pub token_requests: Vec<TokenRequest>,
    /// Every HTTP request, token endpoint included.
    pub http_requests: Vec<HttpRequest>,
    /// IDENTIFYs that broke `session_start_limit`.
    pub pacing_violations: Vec<PacingViolation>,
    /// Frames a correct client never sends.
    pub protocol_errors: Vec<ProtocolError>,
    /// Events scripted for a shard but not sent, because the intents of its session's
    /// IDENTIFY do not cover them (QQ sends nothing then): `(shard, event name)`.
    pub filtered: Vec<(u32, String)>,
    /// Every call of QQ's OpenAPI (messages, uploads, streams, every other route, the
    /// presigned PUTs), in arrival order: [`sends`](Self::sends) and
    /// [`messages_sent`](Self::messages_sent) select the messages.
    pub api_calls: Vec<ApiCall>,
}

impl Record {
    /// The IDENTIFYs received (each an [`Auth::Identify`]), successful or not.
    #[must_use]
    pub fn identifies(&self) -> Vec<&Auth> {
        self.connections.iter().filter_map(|c| c.auth.as_ref()).filter(|a| a.is_identify()).collect()
    }

    /// The RESUMEs received (each an [`Auth::Resume`]), successful or not.
    #[must_use]
    pub fn resumes(&self) -> Vec<&Auth> {
        self.connections.iter().filter_map(|c| c.auth.as_ref()).filter(|a| !a.is_identify()).collect()
    }

    /// Whether a connection that authenticated as `shard` (READY or RESUMED sent) is
    /// still open.
    #[must_use]
    pub fn connected(&self, shard: u32) -> bool {
        self.connections
            .iter()
            .any(|c| c.shard == Some(shard) && c.session_id.is_some() && c.closed_at.is_none())
    }

    /// How many sessions were started (READY sent) on `shard`.
    #[must_use]
    pub fn readies(&self, shard: u32) -> usize {
        self.connections.iter().filter(|c| c.shard == Some(shard) && c.ready).count()
    }

    /// The heartbeats of `shard`.
    pub fn heartbeats_of(&self, shard: u32) -> impl Iterator<Item = &(Instant, u32, Option<u64>)> + '_ {
        self.heartbeats.iter().filter(move |h| h.1 == shard)
    }
}

/// One WebSocket connection.
#[derive(Debug, Clone)]
pub struct ConnectionRecord {
    /// The shard it authenticated as (set when READY or RESUMED is sent).
    pub shard: Option<u32>,
    /// When the mock accepted it.
    pub opened_at: Instant,
    /// The IDENTIFY or RESUME the client sent on it, accepted or not.
    pub auth: Option<Auth>,
    /// The session it served, once READY or RESUMED was sent.
    pub session_id: Option<String>,
    /// Whether it started a session (READY), rather than resumed one.
    pub ready: bool,
    /// When it closed, whoever closed it.
    pub closed_at: Option<Instant>,
    /// The close code of the client's close frame, if it sent one.
    pub close_code_sent_by_client: Option<u16>,
    /// The close code of the mock's close frame, if it sent one.
    pub close_code_sent_by_server: Option<u16>,
    /// Whether the mock dropped the TCP connection without a close frame.
    pub dropped_by_server: bool,
}

/// What a client authenticated with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// An IDENTIFY (op 2).
    Identify {
        /// `d.shard`; `[0, 0]` if missing or malformed.
        shard: [u32; 2],
        /// `d.intents`; 0 if missing or not a `u32`.
        intents: u32,
        /// `d.token`, e.g. `"QQBot …"`.
        token: String,
    },
    /// A RESUME (op 6).
    Resume {
        /// `d.session_id`.
        session_id: String,
        /// `d.seq`; 0 if missing.
        seq: u64,
        /// `d.token`.
        token: String,
    },
}

impl Auth {
    /// Whether this is an IDENTIFY.
    #[must_use]
    pub fn is_identify(&self) -> bool {
        matches!(self, Self::Identify { .. })
    }

    /// The token sent.
    #[must_use]
    pub fn token(&self) -> &str {
        match self {
            Self::Identify { token, .. } | Self::Resume { token, .. } => token,
        }
    }

    /// IDENTIFY's shard.
    #[must_use]
    pub fn shard(&self) -> Option<[u32; 2]> {
        match self {
            Self::Identify { shard, .. } => Some(*shard),
            Self::Resume { .. } => None,
        }
    }

    /// IDENTIFY's intents.
    #[must_use]
    pub fn intents(&self) -> Option<u32> {
        match self {
            Self::Identify { intents, .. } => Some(*intents),
            Self::Resume { .. } => None,
        }
    }

    /// RESUME's session id.
    #[must_use]
    pub fn session_id(&self) -> Option<&str> {
        match self {
            Self::Resume { session_id, .. } => Some(session_id),
            Self::Identify { .. } => None,
        }
    }

    /// RESUME's seq.
    #[must_use]
    pub fn seq(&self) -> Option<u64> {
        match self {
            Self::Resume { seq, .. } => Some(*seq),
            Self::Identify { .. } => None,
        }
    }
}

/// One call of `POST /app/getAppAccessToken`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// When it arrived.
    pub at: Instant,
    /// `appId` of the body, if readable.
    pub app_id: Option<String>,
    /// What the mock answered.
    pub outcome: TokenOutcome,
}

/// One HTTP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// When it arrived.
    pub at: Instant,
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The status answered.
    pub status: u16,
}

/// An IDENTIFY that broke `session_start_limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacingViolation {
    /// When the IDENTIFY arrived.
    pub at: Instant,
    /// Its shard id.
    pub shard: u32,
    /// Which rule it broke.
    pub kind: PacingKind,
}

/// A frame a correct client never sends. The mock records it and carries on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    /// When it arrived.
    pub at: Instant,
    /// The connection's index in [`Record::connections`].
    pub connection: usize,
    /// The connection's shard, if it had authenticated.
    pub shard: Option<u32>,
    /// What is wrong.
    pub reason: String,
    /// The frame (its first 200 characters).
    pub frame: String,
}

/// [`MockGateway::wait_until`](crate::MockGateway::wait_until) gave up; holds the last
/// record seen, for the failure message.
#[derive(Debug, Clone)]
pub struct Timeout(pub Box<Record>);

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "condition not met in time; last record: {:#?}", self.0)
    }
}

impl std::error::Error for Timeout {}

/// One call of QQ's OpenAPI as the mock received and answered it: every route of
/// [`Route`](qqgw_proto::openapi::Route), and the PUTs to presigned upload URLs.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiCall {
    /// When it arrived.
    pub at: Instant,
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// The path, with its query, e.g. `/v2/groups/G/messages`.
    pub path: String,
    /// The route it addressed; `None` for a presigned upload or an unknown path.
    pub route: Option<qqgw_proto::openapi::Route>,
    /// The path parameters, decoded.
    pub params: Vec<String>,
    /// The `Authorization` header as sent (`QQBot {token}`), if any.
    pub authorization: Option<String>,
    /// The `Content-Type` header as sent, if any.
    pub content_type: Option<String>,
    /// The JSON body (`null` if none or not JSON; a presigned part's `size` and `md5`).
    pub body: serde_json::Value,
    /// The status answered.
    pub status: u16,
    /// QQ's error code answered, if any.
    pub code: Option<i64>,
    /// The answer's body (`null` if empty).
    pub answer: serde_json::Value,
}

impl ApiCall {
    fn text(&self, key: &str) -> Option<&str> {
        self.body.get(key).and_then(serde_json::Value::as_str)
    }

    /// Whether the mock accepted it (HTTP 2xx).
    #[must_use]
    pub fn accepted(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Whether it is a media upload (`…/files`) rather than a message.
    #[must_use]
    pub fn is_upload(&self) -> bool {
        use qqgw_proto::openapi::Route;
        matches!(self.route, Some(Route::UploadC2cFile | Route::UploadGroupFile))
    }

    /// Whether it sends a message: C2C, group, guild channel or DM (streams not included).
    #[must_use]
    pub fn is_message(&self) -> bool {
        use qqgw_proto::openapi::Route;
        matches!(
            self.route,
            Some(
                Route::SendC2cMessage
                    | Route::SendGroupMessage
                    | Route::SendChannelMessage
                    | Route::SendDmMessage
            )
        )
    }

    /// `content`.
    #[must_use]
    pub fn content(&self) -> Option<&str> {
        self.text("content")
    }

    /// `msg_id`: the message it replies to.
    #[must_use]
    pub fn msg_id(&self) -> Option<&str> {
        self.text("msg_id")
    }

    /// `event_id`: the event it replies to.
    #[must_use]
    pub fn event_id(&self) -> Option<&str> {
        self.text("event_id")
    }

    /// `msg_seq`.
    #[must_use]
    pub fn msg_seq(&self) -> Option<u64> {
        self.body.get("msg_seq").and_then(serde_json::Value::as_u64)
    }

    /// `msg_type`.
    #[must_use]
    pub fn msg_type(&self) -> Option<u64> {
        self.body.get("msg_type").and_then(serde_json::Value::as_u64)
    }
}

impl Record {
    /// The calls that send a message or upload media, in arrival order, accepted or not.
    #[must_use]
    pub fn sends(&self) -> Vec<&ApiCall> {
        self.api_calls.iter().filter(|c| c.is_message() || c.is_upload()).collect()
    }

    /// The messages the mock accepted (uploads and streams not included), in arrival order.
    #[must_use]
    pub fn messages_sent(&self) -> Vec<&ApiCall> {
        self.api_calls.iter().filter(|c| c.accepted() && c.is_message()).collect()
    }

    /// The calls of `route`, in arrival order.
    #[must_use]
    pub fn calls_of(&self, route: qqgw_proto::openapi::Route) -> Vec<&ApiCall> {
        self.api_calls.iter().filter(|c| c.route == Some(route)).collect()
    }
}
