//! The HTTP calls: the access token, `GET /gateway/bot`, and every call of [`Api`](crate::Api).
//!
//! Blocking `ureq` calls (rustls, webpki roots) run on the runtime's blocking threads:
//! `ureq` needs no runtime of its own, so both adapters share it. BENCHMARKS.md measures
//! it for sends against an async client.

use std::sync::Arc;

use core::time::Duration;
use qqgw_proto::{AccessToken, Credentials, GATEWAY_BOT_PATH, GatewayInfo, Instant, TokenError};

use crate::error::Error;
use crate::policy::TokenCache;
use crate::runtime::{Clock, Runtime};

/// The HTTP side of a bot: credentials, endpoints and one connection pool.
#[derive(Clone)]
pub(crate) struct Http<R> {
    runtime: R,
    agent: ureq::Agent,
    credentials: Credentials,
    token_url: Arc<str>,
    api_base: Arc<str>,
    allow_insecure: bool,
}

impl<R: Runtime> Http<R> {
    pub(crate) fn new(
        runtime: R,
        credentials: Credentials,
        token_url: &str,
        api_base: &str,
        timeout: Duration,
    ) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            // QQ answers errors with a JSON body worth reading, whatever the status.
            .http_status_as_error(false)
            .user_agent(concat!("qqgw/", env!("CARGO_PKG_VERSION")))
            // Replies are concurrent: keep a connection per concurrent send instead of
            // ureq's 3, so that a busy bot does not open a connection per reply.
            .max_idle_connections_per_host(32)
            .max_idle_connections(64)
            .build()
            .new_agent();
        Self {
            runtime,
            agent,
            credentials,
            token_url: token_url.into(),
            api_base: api_base.into(),
            allow_insecure: false,
        }
    }

    /// The HTTP side of the bot `config` describes, once its endpoints are known to be
    /// TLS (or plaintext is allowed).
    ///
    /// # Errors
    ///
    /// [`Error::InsecureEndpoint`] for an `http://` token URL or API base the config does
    /// not allow.
    pub(crate) fn for_config(runtime: R, config: &crate::Config) -> Result<Self, Error> {
        let insecure = config.allow_insecure;
        crate::error::require_tls("token URL", &config.token_url, "https://", "http://", insecure)?;
        crate::error::require_tls("API base", &config.api_base, "https://", "http://", insecure)?;
        let mut http = Self::new(
            runtime,
            config.credentials.clone(),
            &config.token_url,
            &config.api_base,
            config.http_timeout,
        );
        http.allow_insecure = insecure;
        Ok(http)
    }

    /// Whether `http://` endpoints are allowed (a local mock); presigned upload URLs are
    /// held to the same rule as the API base.
    pub(crate) fn allow_insecure(&self) -> bool {
        self.allow_insecure
    }

    /// `POST {token_url}`; `now` is the clock reading the expiry is counted from.
    pub(crate) async fn fetch_token(&self, now: Instant) -> Result<AccessToken, TokenError> {
        let this = self.clone();
        let body = blocking(&self.runtime, move || {
            let response = this
                .agent
                .post(&*this.token_url)
                .header("Content-Type", "application/json")
                .send(this.credentials.token_request_body());
            read_body(response)
        })
        .await
        .map_err(|e| {
            TokenError::Unavailable(format!("POST {} (the token URL) failed: {e}", self.token_url))
        })?;
        match body {
            // The body is never quoted: it may hold a token.
            (status @ (429 | 500..), _) => Err(TokenError::Unavailable(format!(
                "POST {} (the token URL) answered HTTP {status}",
                self.token_url
            ))),
            (_, body) => qqgw_proto::parse_token_response(&body, now),
        }
    }

    /// `GET {api_base}/gateway/bot`.
    pub(crate) async fn gateway_bot(&self, token: &AccessToken) -> Result<GatewayInfo, Error> {
        let this = self.clone();
        let authorization = token.authorization();
        let url = format!("{}{GATEWAY_BOT_PATH}", self.api_base);
        let request = url.clone();
        let (status, body) = blocking(&self.runtime, move || {
            read_body(this.agent.get(&request).header("Authorization", &authorization).call())
        })
        .await
        .map_err(|e| Error::Http(format!("GET {url} (on the API base) failed: {e}")))?;
        GatewayInfo::parse(&body).map_err(|error| Error::Api {
            url: format!("GET {url}"),
            status,
            error: Box::new(error),
        })
    }
}

fn read_body(
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<(u16, Vec<u8>), String> {
    let mut response = response.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response.body_mut().with_config().limit(1 << 20).read_to_vec().map_err(|e| e.to_string())?;
    Ok((status, body))
}

async fn blocking<R: Runtime, T: Send + 'static>(
    runtime: &R,
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    runtime.spawn_blocking(f).await.unwrap_or_else(|| Err("the blocking task was cancelled".into()))
}

/// The largest answer body read: QQ's answers are small JSON documents.
pub(crate) const MAX_ANSWER: u64 = 1 << 20;

/// One HTTP request as it goes on the wire.
pub(crate) struct Wire {
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub(crate) method: &'static str,
    pub(crate) url: String,
    /// `QQBot {token}`; none for a presigned upload URL, which must never see the token.
    pub(crate) authorization: Option<String>,
    pub(crate) content_type: Option<&'static str>,
    pub(crate) body: Option<Vec<u8>>,
}

/// An HTTP answer: the status, the body, QQ's trace id (`X-Tps-trace-ID`) and a
/// `Retry-After` in seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    pub(crate) trace_id: Option<String>,
    pub(crate) retry_after: Option<Duration>,
}

/// `Retry-After` as delta-seconds (QQ's form); an HTTP date or garbage is ignored.
pub(crate) fn retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

impl<R: Runtime> Http<R> {
    /// Sends `wire` and reads the answer (at most [`MAX_ANSWER`] bytes of body).
    pub(crate) async fn send(&self, wire: Wire) -> Result<Answer, String> {
        let this = self.clone();
        blocking(&self.runtime, move || {
            let mut builder = ureq::http::Request::builder().method(wire.method).uri(&wire.url);
            if let Some(authorization) = &wire.authorization {
                builder = builder
                    .header("Authorization", authorization)
                    .header("X-Union-Appid", this.credentials.app_id());
            }
            if let Some(content_type) = wire.content_type {
                builder = builder.header("Content-Type", content_type);
            }
            // POST, PUT and PATCH carry a body, if only an empty one.
            let body = wire.body.unwrap_or_default();
            let request = builder.body(body).map_err(|e| e.to_string())?;
            let mut response = this.agent.run(request).map_err(|e| e.to_string())?;
            let header =
                |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let trace_id = header("X-Tps-trace-ID");
            let retry_after = header("Retry-After").as_deref().and_then(retry_after);
            let status = response.status().as_u16();
            let body = response
                .body_mut()
                .with_config()
                .limit(MAX_ANSWER)
                .read_to_vec()
                .map_err(|e| e.to_string())?;
            Ok(Answer { status, body, trace_id, retry_after })
        })
        .await
    }
}

/// The access token shared by a client's shards and API calls: the [`TokenCache`]'s
/// decisions, and the fetch when it has nothing to offer.
pub(crate) struct Tokens<R> {
    http: Http<R>,
    clock: Clock,
    cache: futures_util::lock::Mutex<TokenCache>,
}

impl<R: Runtime> Tokens<R> {
    pub(crate) fn new(http: Http<R>, clock: Clock) -> Self {
        Self { http, clock, cache: futures_util::lock::Mutex::new(TokenCache::default()) }
    }

    /// The bot's clock: what token fetch times, stream pacing and retries count from.
    pub(crate) fn now(&self) -> Instant {
        self.clock.read(&self.http.runtime)
    }

    /// `at` on the runtime's clock.
    pub(crate) fn deadline(&self, at: Instant) -> std::time::Instant {
        self.clock.deadline(at)
    }

    /// A token for a shard whose last token was fetched at `held` (if ever)
    /// ([`TokenCache::for_shard`]), or a fresh one. Returns it with its fetch time.
    pub(crate) async fn get(&self, held: Option<Instant>) -> Result<(AccessToken, Instant), TokenError> {
        self.cached_or_fetched(|cache, now| cache.for_shard(held, now)).await
    }

    /// A token for an API call, not fetched at or before `rejected`
    /// ([`TokenCache::for_api`]), or a fresh one. Returns it with its fetch time.
    pub(crate) async fn current(
        &self,
        rejected: Option<Instant>,
    ) -> Result<(AccessToken, Instant), TokenError> {
        self.cached_or_fetched(|cache, now| cache.for_api(rejected, now)).await
    }

    /// What `lookup` finds in the cache, else a fresh token (then cached), with its fetch
    /// time. One fetch at a time: callers arriving meanwhile find the fresh token.
    async fn cached_or_fetched(
        &self,
        lookup: impl FnOnce(&TokenCache, Instant) -> Option<(AccessToken, Instant)>,
    ) -> Result<(AccessToken, Instant), TokenError> {
        let mut cache = self.cache.lock().await;
        let now = self.clock.read(&self.http.runtime);
        if let Some(found) = lookup(&cache, now) {
            return Ok(found);
        }
        let token = self.http.fetch_token(now).await?;
        cache.store(token.clone(), now);
        Ok((token, now))
    }
}
