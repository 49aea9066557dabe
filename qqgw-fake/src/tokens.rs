//! The token endpoint: `POST /app/getAppAccessToken`, and which tokens are valid.

use qqgw_proto::{AccessToken, Instant, TOKEN_RENEWAL_WINDOW, TokenError};
use serde_json::json;

use crate::config::QqConfig;
use crate::ids::Ids;
use crate::output::TokenOutcome;

/// The tokens issued, and the endpoint's scripted misbehaviour.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    /// Every token issued, oldest first (a token stays valid until it expires).
    issued: Vec<AccessToken>,
    reject_credentials: bool,
    failing: u32,
    rate_limited: u32,
}

impl Tokens {
    /// Whether `authorization` (`QQBot {token}`) names a token that has not expired.
    pub(crate) fn valid(&self, authorization: &str, now: Instant) -> bool {
        let Some(value) = authorization.strip_prefix("QQBot ") else { return false };
        self.issued.iter().any(|t| t.value() == value && t.expires_at() > now)
    }

    /// The endpoint's answer to a request with `body` (`json` when its content type was
    /// `application/json`): the HTTP status, the body, and what came of it. QQ hands out
    /// the current token until its last [`TOKEN_RENEWAL_WINDOW`], then a new one.
    pub(crate) fn request(
        &mut self,
        config: &QqConfig,
        ids: &mut Ids,
        now: Instant,
        json: bool,
        body: &[u8],
    ) -> (u16, String, Option<String>, TokenOutcome) {
        #[derive(serde::Deserialize)]
        struct Body {
            #[serde(rename = "appId")]
            app_id: Option<String>,
            #[serde(rename = "clientSecret")]
            client_secret: Option<String>,
        }
        let parsed: Option<Body> = serde_json::from_slice(body).ok();
        let app_id = parsed.as_ref().and_then(|b| b.app_id.clone());
        if self.failing > 0 {
            self.failing -= 1;
            return (
                500,
                json!({"code": 500, "message": "internal error"}).to_string(),
                app_id,
                TokenOutcome::Failed,
            );
        }
        if self.rate_limited > 0 {
            // QQ answers its rate limit with HTTP 200 as often as with 429.
            self.rate_limited -= 1;
            let status = if self.rate_limited % 2 == 0 { 200 } else { 429 };
            let body = json!({"code": 100_001, "message": "too many requests"}).to_string();
            return (status, body, app_id, TokenOutcome::RateLimited);
        }
        let rejected = |code: i64, message: &str| {
            let body = json!({"code": code, "message": message}).to_string();
            (body, TokenOutcome::Rejected { code })
        };
        let (body, outcome) = if !json || parsed.is_none() {
            rejected(100_007, "appid invalid")
        } else if self.reject_credentials
            || app_id.as_deref() != Some(config.app_id.as_str())
            || parsed.as_ref().and_then(|b| b.client_secret.as_deref()) != Some(config.secret.as_str())
        {
            rejected(100_016, "invalid appid or secret")
        } else {
            let (token, fresh) = self.current_or_new(config, ids, now);
            let expires_in = token.expires_at().saturating_duration_since(now).as_secs();
            let body =
                json!({"access_token": token.value(), "expires_in": expires_in.to_string()}).to_string();
            return (
                200,
                body,
                app_id,
                TokenOutcome::Issued { token: token.value().to_owned(), expires_in, fresh },
            );
        };
        (config.token_error_status, body, app_id, outcome)
    }

    /// A token for a caller that skips HTTP (a harness, a simulation): the answer the
    /// endpoint would give a correct request.
    pub(crate) fn issue(
        &mut self,
        config: &QqConfig,
        ids: &mut Ids,
        now: Instant,
    ) -> Result<(AccessToken, bool), TokenError> {
        if self.failing > 0 {
            self.failing -= 1;
            return Err(TokenError::Unavailable("the token endpoint answered HTTP 500".into()));
        }
        if self.rate_limited > 0 {
            self.rate_limited -= 1;
            return Err(TokenError::Unavailable(
                "the token endpoint answered 100001 too many requests".into(),
            ));
        }
        if self.reject_credentials {
            return Err(TokenError::Rejected { code: 100_016, message: "invalid appid or secret".into() });
        }
        Ok(self.current_or_new(config, ids, now))
    }

    fn current_or_new(&mut self, config: &QqConfig, ids: &mut Ids, now: Instant) -> (AccessToken, bool) {
        if let Some(current) = self.issued.last().filter(|t| t.expires_at() > now + TOKEN_RENEWAL_WINDOW) {
            return (current.clone(), false);
        }
        let token = AccessToken::new(ids.token(), now + config.token_lifetime);
        self.issued.retain(|t| t.expires_at() > now);
        self.issued.push(token.clone());
        (token, true)
    }

    pub(crate) fn reject_credentials(&mut self, reject: bool) {
        self.reject_credentials = reject;
    }

    pub(crate) fn fail(&mut self, n: u32) {
        self.failing = n;
    }

    pub(crate) fn rate_limit(&mut self, n: u32) {
        self.rate_limited = n;
    }

    /// Every token issued so far expires at `now`; the next request gets a new one.
    pub(crate) fn expire_all(&mut self, now: Instant) {
        for token in &mut self.issued {
            if token.expires_at() > now {
                *token = AccessToken::new(token.value(), now);
            }
        }
    }
}
