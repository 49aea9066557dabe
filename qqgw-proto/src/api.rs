//! The HTTP side the gateway needs: where QQ's endpoints are, and how to read
//! `GET /gateway/bot` and QQ's error bodies.

use serde::{Deserialize, Deserializer};

use crate::limiter::SessionStartLimit;
use crate::openapi::{ApiError, Extra, Route};

/// The OpenAPI base: QQ's 2026 documentation names this one host for every API call
/// ("all API call domains unified to api.bot.qq.com", changelog of 2026-08-10).
pub const API_BASE: &str = "https://api.bot.qq.com";
/// The OpenAPI base of the 2024 documentation and of every SDK before 2026 (legacy; a
/// third-party report says it went offline on 2026-08-10). Reachable by configuring it
/// as the base.
pub const LEGACY_API_BASE: &str = "https://api.sgroup.qq.com";
/// The sandbox OpenAPI base of the 2024 documentation (legacy; reportedly dropped in
/// 2026).
pub const SANDBOX_API_BASE: &str = "https://sandbox.api.sgroup.qq.com";
/// The single host of QQ's 2026 documentation: the same value as [`API_BASE`], kept
/// under this name for existing configurations.
pub const API_BASE_2026: &str = API_BASE;
/// The access-token endpoint (`POST`, JSON body from
/// [`Credentials::token_request_body`](crate::Credentials::token_request_body)).
pub const TOKEN_URL: &str = "https://bots.qq.com/app/getAppAccessToken";
/// The path of the token endpoint on an API host (e.g. [`API_BASE_2026`]).
pub const TOKEN_PATH: &str = "/app/getAppAccessToken";
/// The path, under an API base, that returns the gateway URL, the recommended shard
/// count and the session start limit. Needs `Authorization: QQBot {access_token}`.
pub const GATEWAY_BOT_PATH: &str = "/gateway/bot";

/// What `GET /gateway/bot` returns (and `GET /gateway`, without shards and limit): the
/// answer of [`GetGatewayBot`](crate::openapi::GetGatewayBot).
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
/// assert_eq!(err.to_string(), "GET /gateway/bot: QQ error 11241: wrong token");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
#[non_exhaustive]
pub struct GatewayInfo {
    /// The WebSocket URL to connect to, taken verbatim. Never empty.
    #[serde(deserialize_with = "non_empty")]
    pub url: String,
    /// The recommended number of shards. 1 when absent; at most [`MAX_SHARDS`].
    #[serde(default = "one", deserialize_with = "shard_count")]
    pub shards: u32,
    /// The session start limit. The documented default when absent (`GET /gateway`).
    #[serde(default)]
    pub session_start_limit: SessionStartLimit,
    /// Fields this model does not name, as sent.
    #[serde(flatten)]
    pub extra: Extra,
}

fn non_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let url = String::deserialize(d)?;
    if url.is_empty() {
        return Err(serde::de::Error::custom("the gateway URL is empty"));
    }
    Ok(url)
}

/// A shard count above [`MAX_SHARDS`] is refused before anything is allocated for it.
fn shard_count<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let shards = u32::deserialize(d)?;
    if shards > MAX_SHARDS {
        return Err(serde::de::Error::custom(format_args!(
            "{shards} shards recommended; qqgw runs at most {MAX_SHARDS}"
        )));
    }
    Ok(shards)
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
    /// the expected JSON (its start quoted, bounded). The error has no HTTP status: the
    /// caller knows it.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        crate::openapi::parse_body(Route::GetGatewayBot, 200, None, body).map_err(|mut error| {
            error.status = None;
            error
        })
    }
}

/// The most shards `GET /gateway/bot` may recommend: a larger count is refused as an
/// error before anything is allocated for it. QQ shards by guild count, 2,500 guilds a
/// shard; 4,096 shards cover ten million guilds.
pub const MAX_SHARDS: u32 = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_for_plain_gateway_and_garbage() {
        let info = GatewayInfo::parse(br#"{"url":"wss://x/"}"#).unwrap();
        assert_eq!((info.shards, info.session_start_limit), (1, SessionStartLimit::default()));
        let error = GatewayInfo::parse(b"<html>").unwrap_err();
        assert_eq!((error.code, error.status), (0, None));
        assert!(error.message.ends_with("<html>"), "{error}");
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
