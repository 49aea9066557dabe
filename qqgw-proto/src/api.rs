//! The HTTP side the gateway needs: where QQ's endpoints are, and how to read
//! `GET /gateway/bot` and QQ's error bodies.

use serde::Deserialize;

use crate::error::snippet;
use crate::limiter::SessionStartLimit;

/// The production OpenAPI base.
pub const API_BASE: &str = "https://api.sgroup.qq.com";
/// The sandbox OpenAPI base (reportedly dropped in 2026).
pub const SANDBOX_API_BASE: &str = "https://sandbox.api.sgroup.qq.com";
/// The single host of QQ's 2026 documentation (API, token and gateway).
pub const API_BASE_2026: &str = "https://api.bot.qq.com";
/// The access-token endpoint (`POST`, JSON body from
/// [`Credentials::token_request_body`](crate::Credentials::token_request_body)).
pub const TOKEN_URL: &str = "https://bots.qq.com/app/getAppAccessToken";
/// The path of the token endpoint on an API host (e.g. [`API_BASE_2026`]).
pub const TOKEN_PATH: &str = "/app/getAppAccessToken";
/// The path, under an API base, that returns the gateway URL, the recommended shard
/// count and the session start limit. Needs `Authorization: QQBot {access_token}`.
pub const GATEWAY_BOT_PATH: &str = "/gateway/bot";

/// What `GET /gateway/bot` returns.
///
/// # Examples
///
/// ```
/// use qqgw_proto::GatewayInfo;
///
/// let body = br#"{"url":"wss://api.sgroup.qq.com/websocket/","shards":2,
///     "session_start_limit":{"total":1000,"remaining":999,"reset_after":14400000,"max_concurrency":1}}"#;
/// let info = GatewayInfo::parse(body).unwrap();
/// assert_eq!((info.url.as_str(), info.shards), ("wss://api.sgroup.qq.com/websocket/", 2));
/// assert_eq!(info.session_start_limit.remaining, 999);
///
/// let err = GatewayInfo::parse(br#"{"code":11241,"message":"wrong token"}"#).unwrap_err();
/// assert_eq!(err.to_string(), "QQ API error 11241: wrong token");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
#[non_exhaustive]
pub struct GatewayInfo {
    /// The WebSocket URL to connect to, taken verbatim.
    pub url: String,
    /// The recommended number of shards. 1 when absent.
    #[serde(default = "one")]
    pub shards: u32,
    /// The session start limit. The documented default when absent (`GET /gateway`).
    #[serde(default)]
    pub session_start_limit: SessionStartLimit,
}

fn one() -> u32 {
    1
}

impl GatewayInfo {
    /// Reads the body of `GET /gateway/bot` (or `GET /gateway`).
    ///
    /// # Errors
    ///
    /// [`ApiError`] with QQ's code for an error body, or code 0 for a body that is not
    /// the expected JSON.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        if let Ok(info) = serde_json::from_slice::<Self>(body) {
            if info.shards > MAX_SHARDS {
                return Err(ApiError {
                    code: 0,
                    message: format!("{} shards recommended; qqgw runs at most {MAX_SHARDS}", info.shards),
                });
            }
            if !info.url.is_empty() {
                return Ok(info);
            }
        }
        Err(ApiError::from_body(body))
    }
}

/// The most shards `GET /gateway/bot` may recommend: a larger count is refused as an
/// error before anything is allocated for it. QQ shards by guild count, 2,500 guilds a
/// shard; 4,096 shards cover ten million guilds.
pub const MAX_SHARDS: u32 = 4096;

/// An error answer of QQ's API: `{"code": …, "message": …}`, or a body that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("QQ API error {code}: {message}")]
#[non_exhaustive]
pub struct ApiError {
    /// QQ's error code; 0 when the body had none.
    pub code: i64,
    /// QQ's message, or the start of the unreadable body.
    pub message: String,
}

impl ApiError {
    /// Reads an error body; a body without `code` keeps its start as the message.
    #[must_use]
    pub fn from_body(body: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct Body {
            #[serde(default)]
            code: i64,
            #[serde(default)]
            message: String,
        }
        match serde_json::from_slice::<Body>(body) {
            Ok(b) if b.code != 0 => Self { code: b.code, message: b.message },
            _ => Self { code: 0, message: snippet(&String::from_utf8_lossy(body)) },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_for_plain_gateway_and_garbage() {
        let info = GatewayInfo::parse(br#"{"url":"wss://x/"}"#).unwrap();
        assert_eq!((info.shards, info.session_start_limit), (1, SessionStartLimit::default()));
        assert_eq!(
            GatewayInfo::parse(b"<html>").unwrap_err(),
            ApiError { code: 0, message: "<html>".into() }
        );
        assert_eq!(GatewayInfo::parse(br#"{"url":""}"#).unwrap_err().code, 0);
    }

    #[test]
    fn an_absurd_shard_count_is_refused_before_anything_is_allocated() {
        let ok = GatewayInfo::parse(br#"{"url":"wss://x/","shards":4096}"#).unwrap();
        assert_eq!(ok.shards, MAX_SHARDS);
        let error = GatewayInfo::parse(br#"{"url":"wss://x/","shards":4294967295}"#).unwrap_err();
        assert!(error.message.contains("at most 4096"), "{error}");
    }
}
