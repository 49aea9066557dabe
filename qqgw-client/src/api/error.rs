//! Why a call failed: QQ's error (classified by the one code table of `qqgw-proto`), or
//! no answer at all.

use core::fmt;

use qqgw_proto::TokenError;
use qqgw_proto::openapi::{ApiError, ErrorKind, RequestError, Retry};

/// Why a call of QQ's API failed. Its `Display` is one line naming the route (its
/// template, never the access token or the AppSecret), QQ's code, message and trace id.
///
/// Decide with [`kind`](Self::kind) (the class from QQ's code table: reply window passed,
/// duplicate `msg_seq`, not permitted, rate limited, held for audit…) or
/// [`code`](Self::code); quote [`trace_id`](Self::trace_id) to QQ's support. What the
/// [`Api`](crate::Api) retried before giving up is in its docs: nothing here is worth
/// sending again as it is unless [`retry`](Self::retry) says so.
///
/// # Examples
///
/// ```no_run
/// use qqgw_tokio::api::{CallError, ErrorKind};
/// # async fn f(api: qqgw_tokio::Api, msg: qqgw_tokio::model::GroupMessage) {
/// match api.reply(&msg, "pong").await {
///     Ok(sent) => println!("sent {:?}", sent.id),
///     Err(error) if error.kind() == Some(ErrorKind::Reply) => println!("too late to reply: {error}"),
///     Err(error) if error.kind() == Some(ErrorKind::Audit) => println!("held for audit {:?}", error.audit_id()),
///     Err(error) => eprintln!("{error}"), // e.g. "POST /v2/groups/{group_openid}/messages: QQ error … [trace id …]"
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CallError {
    /// QQ answered with an error, or with an answer that could not be read: its code,
    /// message, HTTP status and trace id, classified by the code table.
    Qq(Box<ApiError>),
    /// No answer: DNS, TCP, TLS, a timeout or an answer over 1 MiB. `request` is the
    /// route's method and template. Not retried unless the request was repeatable: QQ
    /// may have acted on it.
    Http {
        /// E.g. `POST /v2/groups/{group_openid}/messages`.
        request: String,
        /// What failed.
        message: String,
    },
    /// No access token to call with.
    Token(TokenError),
    /// The request was not sent: a path id is empty, or the request breaks a rule QQ
    /// documents (a keyboard of 6 rows, text beside markdown…), which QQ would refuse.
    Request(RequestError),
    /// Nothing to reply to: the message lacks the id or chat a reply needs.
    NoReplyTarget(&'static str),
    /// The event came without an [`Api`](crate::Api) (one built by hand and given to
    /// [`run_handler`](crate::run_handler)): attach one with
    /// [`ShardEvent::with_api`](crate::ShardEvent::with_api).
    NoApi,
    /// A chunked upload failed outside QQ's API: the file could not be read, QQ's
    /// `upload_prepare` answer does not fit it, or a part could not be stored at its
    /// presigned URL within QQ's retry window. The [`Upload`](super::Upload) can be run
    /// again to resume.
    Upload(String),
}

impl CallError {
    /// QQ's error, if QQ answered.
    #[must_use]
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Self::Qq(error) => Some(error),
            _ => None,
        }
    }

    /// The class of QQ's answer from the code table (or its HTTP status); `None` when QQ
    /// did not answer (transport, token, a request not sent).
    #[must_use]
    pub fn kind(&self) -> Option<ErrorKind> {
        self.api_error().map(ApiError::kind)
    }

    /// What is safe to do about QQ's answer, from the code table; `None` when QQ did
    /// not answer.
    #[must_use]
    pub fn retry(&self) -> Option<Retry> {
        self.api_error().map(ApiError::retry)
    }

    /// QQ's error code (`err_code`, else `code`; 0 for an answer without one).
    #[must_use]
    pub fn code(&self) -> Option<i64> {
        self.api_error().map(|e| e.code)
    }

    /// QQ's trace id, to quote to QQ's support.
    #[must_use]
    pub fn trace_id(&self) -> Option<&str> {
        self.api_error().and_then(|e| e.trace_id.as_deref())
    }

    /// QQ's audit id for a guild message held for review ([`ErrorKind::Audit`]): the
    /// later `MESSAGE_AUDIT_PASS`/`MESSAGE_AUDIT_REJECT` event carries it.
    #[must_use]
    pub fn audit_id(&self) -> Option<&str> {
        self.api_error().and_then(|e| e.audit_id.as_deref())
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Qq(error) => write!(f, "{error} ({})", error.kind()),
            Self::Http { request, message } => write!(f, "{request}: no answer: {message}"),
            Self::Token(error) => write!(f, "no access token to call QQ's API with: {error}"),
            Self::Request(error) => write!(f, "request not sent: {error}"),
            Self::NoReplyTarget(what) => write!(f, "cannot reply: the event has no {what}"),
            Self::NoApi => write!(f, "cannot reply: this event came without an API client"),
            Self::Upload(message) => write!(f, "upload failed: {message}"),
        }
    }
}

impl std::error::Error for CallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Qq(error) => Some(&**error),
            Self::Token(error) => Some(error),
            Self::Request(error) => Some(error),
            _ => None,
        }
    }
}

impl From<ApiError> for CallError {
    fn from(error: ApiError) -> Self {
        Self::Qq(Box::new(error))
    }
}

impl From<RequestError> for CallError {
    fn from(error: RequestError) -> Self {
        Self::Request(error)
    }
}

impl From<TokenError> for CallError {
    fn from(error: TokenError) -> Self {
        Self::Token(error)
    }
}
