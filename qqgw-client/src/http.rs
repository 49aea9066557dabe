//! The HTTP calls: the access token, `GET /gateway/bot`, and the sends of [`Api`](crate::Api).
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
        Self { runtime, agent, credentials, token_url: token_url.into(), api_base: api_base.into() }
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
        Ok(Self::new(
            runtime,
            config.credentials.clone(),
            &config.token_url,
            &config.api_base,
            config.http_timeout,
        ))
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

impl<R: Runtime> Http<R> {
    /// `POST {url}` with a JSON body and `Authorization`; the status, body and QQ's trace id.
    pub(crate) async fn post_json(
        &self,
        url: String,
        authorization: String,
        body: String,
    ) -> Result<(u16, Vec<u8>, Option<String>), String> {
        let this = self.clone();
        blocking(&self.runtime, move || {
            let mut response = this
                .agent
                .post(&url)
                .header("Authorization", &authorization)
                .header("X-Union-Appid", this.credentials.app_id())
                .header("Content-Type", "application/json")
                .send(body)
                .map_err(|e| e.to_string())?;
            let trace =
                response.headers().get("X-Tps-trace-ID").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let status = response.status().as_u16();
            let body =
                response.body_mut().with_config().limit(1 << 20).read_to_vec().map_err(|e| e.to_string())?;
            Ok((status, body, trace))
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
