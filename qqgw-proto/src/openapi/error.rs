//! QQ's error answers: one error type for every route.

use std::fmt;

use serde_json::Value;

use super::codes::ErrorCode;
use super::route::Route;

/// How many characters of QQ's message (or of an unreadable body) an error keeps.
pub const MESSAGE_MAX_CHARS: usize = 256;
/// How many characters of a trace id or an audit id an error keeps.
const ID_MAX_CHARS: usize = 128;

/// An error answer of QQ's API, or an answer that could not be read.
///
/// Read from QQ's error body `{"err_code": …, "message": …, "trace_id": …}` (real
/// bodies also carry `code`, equal to `err_code`): the code is `err_code`, else `code`.
/// A 2xx answer whose body holds a non-zero code is an error too: that is how QQ reports
/// a guild message held for audit (304023/304024, with `data.message_audit.audit_id`)
/// and its other asynchronous refusals. QQ's message is kept for people, bounded to
/// [`MESSAGE_MAX_CHARS`] characters and to one line; decide on [`code`](Self::code),
/// [`kind`](Self::kind) and [`retry`](Self::retry), never on the message.
///
/// # Examples
///
/// ```
/// use qqgw_proto::openapi::{Endpoint, ErrorKind, Retry, SendGroupMessage};
///
/// let body = br#"{"message":"msg_id expired","code":40034128,"err_code":40034128,"trace_id":"t-1"}"#;
/// let error = SendGroupMessage::parse_response(400, None, body).unwrap_err();
/// assert_eq!((error.code, error.kind(), error.retry()), (40034128, ErrorKind::Reply, Retry::Never));
/// assert_eq!(
///     error.to_string(),
///     "POST /v2/groups/{group_openid}/messages: QQ error 40034128 (HTTP 400): msg_id expired [trace id t-1]"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// The route called, when known.
    pub route: Option<Route>,
    /// The HTTP status, when known.
    pub status: Option<u16>,
    /// QQ's error code (`err_code`, else `code`); 0 when the answer had none.
    pub code: i64,
    /// QQ's message (bounded, one line), or the start of a body that is not QQ's JSON.
    pub message: String,
    /// The trace id to quote to QQ's support: the body's `trace_id`, else the
    /// `X-Tps-trace-ID` header.
    pub trace_id: Option<String>,
    /// For a message held for audit (304023/304024): `data.message_audit.audit_id`,
    /// which the later `MESSAGE_AUDIT_PASS`/`MESSAGE_AUDIT_REJECT` event carries.
    pub audit_id: Option<String>,
}

impl ApiError {
    /// An error of no particular route or status, e.g. for a body read outside a call.
    #[must_use]
    pub fn new(code: i64, message: impl AsRef<str>) -> Self {
        Self {
            route: None,
            status: None,
            code,
            message: bounded(message.as_ref(), MESSAGE_MAX_CHARS),
            trace_id: None,
            audit_id: None,
        }
    }

    /// Reads an error answer of any status: QQ's JSON error body, or any other body
    /// (an HTML page of a proxy, plain text), whose start becomes the message.
    #[must_use]
    pub fn from_response(route: Option<Route>, status: u16, trace_id: Option<&str>, body: &[u8]) -> Self {
        match serde_json::from_slice::<Value>(body.trim_ascii()) {
            Ok(value @ Value::Object(_)) => Self::from_value(route, Some(status), trace_id, &value),
            _ => Self {
                route,
                status: Some(status),
                code: 0,
                message: bounded(&String::from_utf8_lossy(body), MESSAGE_MAX_CHARS),
                trace_id: trace_id.map(|t| bounded(t, ID_MAX_CHARS)),
                audit_id: None,
            },
        }
    }

    /// Whether a 2xx body is an error: an object with a non-zero `err_code` or `code`.
    pub(crate) fn is_error_body(value: &Value) -> bool {
        code_of(value) != 0
    }

    /// Reads QQ's JSON error body.
    pub(crate) fn from_value(
        route: Option<Route>,
        status: Option<u16>,
        trace_id: Option<&str>,
        value: &Value,
    ) -> Self {
        let text = |v: Option<&Value>| match v {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let message = text(value.get("message")).or_else(|| text(value.get("msg"))).unwrap_or_default();
        let trace = text(value.get("trace_id")).or_else(|| trace_id.map(str::to_owned));
        let audit = value.pointer("/data/message_audit/audit_id");
        Self {
            route,
            status,
            code: code_of(value),
            message: bounded(&message, MESSAGE_MAX_CHARS),
            trace_id: trace.map(|t| bounded(&t, ID_MAX_CHARS)),
            audit_id: text(audit).map(|a| bounded(&a, ID_MAX_CHARS)),
        }
    }

    /// A 2xx answer that is not the JSON its route answers with.
    pub(crate) fn undecodable(
        route: Route,
        status: u16,
        trace_id: Option<&str>,
        error: &serde_json::Error,
        body: &[u8],
    ) -> Self {
        let start = bounded(&String::from_utf8_lossy(body), 64);
        Self {
            route: Some(route),
            status: Some(status),
            code: 0,
            message: bounded(&format!("unreadable answer ({error}): {start}"), MESSAGE_MAX_CHARS),
            trace_id: trace_id.map(|t| bounded(t, ID_MAX_CHARS)),
            audit_id: None,
        }
    }

    /// The row of the code table for [`code`](Self::code), if it has one.
    #[must_use]
    pub fn code_info(&self) -> Option<&'static ErrorCode> {
        ErrorCode::lookup(self.code)
    }

    /// The class of the error: from the code table, else from the HTTP status (401
    /// [`Auth`](ErrorKind::Auth), 429 [`Rate`](ErrorKind::Rate), 5xx
    /// [`Transient`](ErrorKind::Transient), anything else [`Other`](ErrorKind::Other)).
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match (self.code_info(), self.status) {
            (Some(info), _) => info.kind,
            (None, Some(401)) => ErrorKind::Auth,
            (None, Some(429)) => ErrorKind::Rate,
            (None, Some(500..=599)) => ErrorKind::Transient,
            (None, _) => ErrorKind::Other,
        }
    }

    /// What is safe to do about it: from the code table, else from the HTTP status (401
    /// [`RefreshToken`](Retry::RefreshToken), 429 [`Backoff`](Retry::Backoff), 5xx
    /// [`Later`](Retry::Later), anything else [`Never`](Retry::Never)).
    #[must_use]
    pub fn retry(&self) -> Retry {
        match (self.code_info(), self.status) {
            (Some(info), _) => info.retry,
            (None, Some(401)) => Retry::RefreshToken,
            (None, Some(429)) => Retry::Backoff,
            (None, Some(500..=599)) => Retry::Later,
            (None, _) => Retry::Never,
        }
    }

    /// Whether the message was accepted and is held for QQ's audit (304023/304024):
    /// not a failure; the verdict arrives later as an event.
    #[must_use]
    pub fn is_audit(&self) -> bool {
        self.kind() == ErrorKind::Audit
    }
}

impl fmt::Display for ApiError {
    /// One line: the route, the code, the HTTP status, QQ's message and the trace id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(route) = self.route {
            write!(f, "{route}: ")?;
        }
        write!(f, "QQ error {}", self.code)?;
        if let Some(status) = self.status {
            write!(f, " (HTTP {status})")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(trace) = &self.trace_id {
            write!(f, " [trace id {trace}]")?;
        }
        if let Some(audit) = &self.audit_id {
            write!(f, " [audit id {audit}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// `err_code`, else `code`, as an integer (or a string holding one); 0 when neither.
fn code_of(value: &Value) -> i64 {
    let read = |key: &str| match value.get(key) {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    };
    match read("err_code") {
        0 => read("code"),
        code => code,
    }
}

/// At most `max` characters of `text` on one line: control characters become spaces,
/// and a cut text ends in `…`.
pub(crate) fn bounded(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max * 4));
    for (count, c) in text.chars().enumerate() {
        if count == max {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

/// The class of an error, as QQ-API.md §16 names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The token or the app's identity was refused.
    Auth,
    /// A capability the bot was not granted (whitelists, admin rights, active sends).
    Permission,
    /// Too fast: slow down.
    Rate,
    /// An allowance used up; waiting a minute does not help.
    Quota,
    /// The passive-reply anchor (`msg_id`/`event_id`) is unusable: expired, spent or
    /// wrong. Reply actively or not at all.
    Reply,
    /// De-duplicated: this `msg_id` + `msg_seq` was already sent.
    Dedup,
    /// The request is malformed.
    Param,
    /// The message was refused for what it says.
    Content,
    /// Rich media could not be fetched, converted or used.
    Media,
    /// The recipient or the bot is in a state that refuses the call (not a member,
    /// muted, offline).
    Target,
    /// A server-side failure: the same call may succeed later.
    Transient,
    /// Accepted and held for audit; the verdict comes as an event.
    Audit,
    /// A recall refused (window passed, not the bot's message).
    Recall,
    /// An unknown code under a status that says nothing more.
    Other,
}

impl ErrorKind {
    /// The class's name as QQ-API.md §16 writes it, e.g. `"perm"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Permission => "perm",
            Self::Rate => "rate",
            Self::Quota => "quota",
            Self::Reply => "reply",
            Self::Dedup => "dedup",
            Self::Param => "param",
            Self::Content => "content",
            Self::Media => "media",
            Self::Target => "target",
            Self::Transient => "transient",
            Self::Audit => "audit",
            Self::Recall => "recall",
            Self::Other => "other",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is safe to do after an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Retry {
    /// Do not send the same request again.
    Never,
    /// Send it again after a backoff, honouring a `Retry-After` header if QQ sent one.
    Backoff,
    /// A server-side failure: send it again later, once (for a send, with the same
    /// `msg_seq`, so that a copy QQ already took is refused as a duplicate).
    Later,
    /// Fetch a new access token, then send it again once.
    RefreshToken,
}

impl Retry {
    /// A short name, e.g. `"backoff"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Never => "never",
            Self::Backoff => "backoff",
            Self::Later => "later",
            Self::RefreshToken => "refresh token",
        }
    }
}

impl fmt::Display for Retry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_is_one_short_line() {
        assert_eq!(bounded("a\nb", 10), "a b");
        assert_eq!(bounded("abcdef", 3), "abc…");
        assert_eq!(bounded("标签", 2), "标签");
    }
}
