//! Access tokens: the value, its expiry, and the token endpoint's request and answer.

use core::fmt;
use core::time::Duration;

use serde::Deserialize;

use crate::error::TokenError;
use crate::time::Instant;

/// QQ issues a new access token only in the last 60 s of the current one's life; until
/// then the token endpoint returns the current one again.
pub const TOKEN_RENEWAL_WINDOW: Duration = Duration::from_secs(60);
/// A token expiring sooner than this is refreshed before it is used: QQ's
/// [`TOKEN_RENEWAL_WINDOW`], when a new token can be had and the old one stays valid
/// meanwhile.
pub const TOKEN_REFRESH_MARGIN: Duration = TOKEN_RENEWAL_WINDOW;

/// A QQ access token and the instant it expires.
///
/// Its `Debug` never shows the value.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use qqgw_proto::{AccessToken, Instant};
///
/// let now = Instant::from_millis(0);
/// let token = AccessToken::new("secret-token", now + Duration::from_secs(7200));
/// assert_eq!(token.authorization(), "QQBot secret-token");
/// assert!(!format!("{token:?}").contains("secret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    value: String,
    expires_at: Instant,
}

impl AccessToken {
    /// A token that expires at `expires_at` (on the machine's clock).
    #[must_use]
    pub fn new(value: impl Into<String>, expires_at: Instant) -> Self {
        Self { value: value.into(), expires_at }
    }

    /// The token's value.
    #[must_use]
    pub fn value(&self) -> &str {
        &self.value
    }

    /// When the token expires.
    #[must_use]
    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }

    /// The credential QQ expects in IDENTIFY, RESUME and the `Authorization` header of
    /// every HTTP call: `QQBot {access_token}`.
    #[must_use]
    pub fn authorization(&self) -> String {
        format!("QQBot {}", self.value)
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A string that never shows in `Debug`.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Secret(pub(crate) String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A bot's AppID and AppSecret. Its `Debug` never shows the secret.
///
/// # Examples
///
/// ```
/// use qqgw_proto::Credentials;
///
/// let creds = Credentials::new("102012345", "s3cr3t\"x");
/// assert_eq!(creds.token_request_body(), r#"{"appId":"102012345","clientSecret":"s3cr3t\"x"}"#);
/// assert!(!format!("{creds:?}").contains("s3cr3t"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    app_id: String,
    secret: String,
}

impl Credentials {
    /// Credentials from the bot's AppID and AppSecret.
    #[must_use]
    pub fn new(app_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self { app_id: app_id.into(), secret: secret.into() }
    }

    /// The AppID.
    #[must_use]
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// The AppSecret (also the seed of the webhook signing key).
    #[must_use]
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The JSON body of `POST {token_url}`: `{"appId": …, "clientSecret": …}`, to be sent
    /// with `Content-Type: application/json` (QQ answers "appid invalid" without it).
    #[must_use]
    pub fn token_request_body(&self) -> String {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            #[serde(rename = "appId")]
            app_id: &'a str,
            #[serde(rename = "clientSecret")]
            client_secret: &'a str,
        }
        serde_json::to_string(&Body { app_id: &self.app_id, client_secret: &self.secret }).unwrap_or_default()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("app_id", &self.app_id).field("secret", &"<redacted>").finish()
    }
}

/// The token endpoint's error codes that reject the credentials themselves, after which
/// no retry can succeed: `100016` invalid AppID or secret, `100007` AppID invalid (or the
/// bot banned or deleted), `10004` bot does not exist. Every other code (`100001` too
/// many requests among them) may pass and is retried.
pub const CREDENTIAL_REJECTIONS: [i64; 3] = [100_016, 100_007, 10_004];

/// Reads the token endpoint's answer, received at `now`.
///
/// Success is `{"access_token": "…", "expires_in": "7200"}`; `expires_in` is in seconds
/// and arrives as a string or a number. A body with a non-zero `code` is an error
/// whatever the HTTP status. Errors never quote the body (a body may hold a token).
///
/// # Errors
///
/// [`TokenError::Rejected`] for a code in [`CREDENTIAL_REJECTIONS`] (fatal: the
/// credentials are wrong or the bot is gone); [`TokenError::Unavailable`] for any other
/// code (rate limits included), a body that is not JSON, or one without a token: retried
/// with backoff.
///
/// # Examples
///
/// ```
/// use qqgw_proto::{parse_token_response, Instant, TokenError};
///
/// let now = Instant::from_millis(1_000);
/// let token = parse_token_response(br#"{"access_token":"abc","expires_in":"7200"}"#, now).unwrap();
/// assert_eq!(token.expires_at(), Instant::from_millis(7_201_000));
///
/// let err = parse_token_response(br#"{"code":100016,"message":"invalid appid or secret"}"#, now);
/// assert!(matches!(err, Err(TokenError::Rejected { code: 100016, .. })));
///
/// let busy = parse_token_response(br#"{"code":100001,"message":"too many requests"}"#, now);
/// assert!(matches!(busy, Err(TokenError::Unavailable(_))));
/// ```
pub fn parse_token_response(body: &[u8], now: Instant) -> Result<AccessToken, TokenError> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(default)]
        code: Option<i64>,
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        access_token: Option<String>,
        #[serde(default, deserialize_with = "crate::model::de::num")]
        expires_in: Option<u64>,
    }
    let answer: Answer = serde_json::from_slice(body).map_err(|_| {
        TokenError::Unavailable(format!("unreadable answer from the token endpoint ({} bytes)", body.len()))
    })?;
    if let Some(code) = answer.code.filter(|&c| c != 0) {
        let message = crate::error::snippet(&answer.message.unwrap_or_default());
        if CREDENTIAL_REJECTIONS.contains(&code) {
            return Err(TokenError::Rejected { code, message });
        }
        return Err(TokenError::Unavailable(format!("the token endpoint answered code {code}: {message}")));
    }
    match (answer.access_token, answer.expires_in) {
        (Some(value), Some(secs)) if !value.is_empty() => {
            Ok(AccessToken::new(value, now + Duration::from_secs(secs)))
        }
        _ => Err(TokenError::Unavailable("token answer without access_token or expires_in".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_in_as_number_or_string() {
        let now = Instant::ZERO;
        for body in [
            r#"{"access_token":"t","expires_in":7200}"#,
            r#"{"access_token":"t","expires_in":"7200"}"#,
            r#"{"access_token":"t","expires_in":" 7200 ","code":0}"#,
        ] {
            let t = parse_token_response(body.as_bytes(), now);
            assert_eq!(t.map(|t| t.expires_at()), Ok(Instant::from_millis(7_200_000)), "{body}");
        }
    }

    #[test]
    fn rejections_and_garbage() {
        let now = Instant::ZERO;
        let rejected = parse_token_response(br#"{"code":100007,"message":"appid invalid"}"#, now);
        assert_eq!(rejected, Err(TokenError::Rejected { code: 100007, message: "appid invalid".into() }));
        for body in [&b"<html>502</html>"[..], b"{}", br#"{"access_token":"","expires_in":1}"#, b"\xff\xfe"] {
            assert!(matches!(parse_token_response(body, now), Err(TokenError::Unavailable(_))));
        }
    }

    #[test]
    fn only_credential_rejections_are_rejections() {
        let now = Instant::ZERO;
        for code in CREDENTIAL_REJECTIONS {
            let body = format!(r#"{{"code":{code},"message":"no"}}"#);
            assert!(matches!(parse_token_response(body.as_bytes(), now), Err(TokenError::Rejected { .. })));
        }
        for code in [100_001, 11_241, -1, 500] {
            let body = format!(r#"{{"code":{code},"message":"too many requests"}}"#);
            let error = parse_token_response(body.as_bytes(), now).unwrap_err();
            assert!(matches!(&error, TokenError::Unavailable(m) if m.contains(&code.to_string())), "{error}");
        }
    }

    #[test]
    fn errors_never_quote_the_body() {
        let now = Instant::ZERO;
        // A body that holds a token but cannot be read as an answer.
        let body = br#"{"access_token":"leaked-token-value","expires_in":[7200]}"#;
        let error = parse_token_response(body, now).unwrap_err();
        assert!(!format!("{error} {error:?}").contains("leaked-token-value"), "{error}");
    }
}
