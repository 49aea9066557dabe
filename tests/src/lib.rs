//! Test your bot without QQ: a loopback mock of the QQ Bot gateway and its HTTP API.
//!
//! [`MockGateway`] runs, on `127.0.0.1`, the token endpoint
//! (`POST /app/getAppAccessToken`), gateway discovery (`GET /gateway`,
//! `GET /gateway/bot`) and the WebSocket gateway, faithful to the protocol reference that
//! `qqgw-proto` implements: HELLO first, IDENTIFY → READY, RESUME → replay → RESUMED,
//! heartbeats → ACK, QQ's close codes. Tests script it (send events, drop connections,
//! withhold heartbeat ACKs, refuse resumes…) from sync or async code, and read back a
//! [`Record`] of everything the client did.
//!
//! It is also where qqgw's own end-to-end tests run the adapters, and a program:
//! `cargo run -p qqgw-mock -- --help` serves the mock and prints the `QQ_BOT_*` variables
//! that point a bot at it.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use qqgw_mock::{MockConfig, MockGateway};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mock = MockGateway::start(MockConfig {
//!     heartbeat_interval: Duration::from_millis(200),
//!     ..MockConfig::default()
//! })
//! .await?;
//! // Point the bot at the mock: credentials `mock.config().credentials()`, token URL
//! // `mock.token_url()`, API base `mock.api_base()`; start it…
//!
//! // …wait until it has a session, send it an event, and watch it survive a rotation.
//! mock.wait_until(|r| r.connected(0), Duration::from_secs(5)).await?;
//! mock.dispatch(0, "AT_MESSAGE_CREATE", serde_json::json!({"content": "hello"}));
//! mock.close(0, 4009);
//! mock.dispatch(0, "AT_MESSAGE_CREATE", serde_json::json!({"content": "missed"}));
//! let record = mock.wait_until(|r| r.resumes().len() == 1 && r.connected(0), Duration::from_secs(5)).await?;
//! assert!(record.protocol_errors.is_empty());
//! # Ok(())
//! # }
//! ```
//!
//! # What the mock checks
//!
//! * Token endpoint: `Content-Type: application/json` (else `{"code":100007}`), the
//!   AppID and AppSecret of [`MockConfig`] (else `{"code":100016}`). The same token comes
//!   back until its last 60 s, then a new one; `expires_in` is a string, as QQ's.
//! * `/gateway` and `/gateway/bot`: `Authorization: QQBot <valid token>` (else 401,
//!   `{"code":11241}`).
//! * IDENTIFY: `d.token` is `QQBot <valid token>` (else close 4004), `d.shard` is
//!   `[id, shards]` with `id < shards` (else 4010), `d.intents` is non-zero (else 4013)
//!   and within [`MockConfig::allowed_intents`] (else 4014), `session_start_limit`:
//!   more than `max_concurrency` IDENTIFYs in 5 s is recorded as a
//!   [`PacingViolation`]; one with `remaining == 0` too, and closed with 4008.
//! * RESUME: the token (4004), the session (unknown, expired or invalidated → op 9
//!   `false`), `seq` not beyond the last sent (else 4007).
//! * Anything else a correct client does not send (a frame that is not JSON, a second
//!   IDENTIFY, an op other than heartbeat before IDENTIFY, a binary frame…) is recorded
//!   as a [`ProtocolError`]; the mock carries on.
//!
//! * QQ's OpenAPI, every route of [`Route`](qqgw_proto::openapi::Route) (`--routes`
//!   lists them), answered by `qqgw-fake`'s model ([`OpenApi`]) as QQ-API.md describes
//!   QQ: `Authorization: QQBot <valid token>` (else 401, `11244`); the method (405) and
//!   path (404); each route's required fields and limits, with QQ's codes from the one
//!   code table. Messages: a `msg_id`/`event_id` the mock dispatched (else `40034024`,
//!   `40034025`), within its window ([`MockConfig::reply_window`],
//!   [`MockConfig::c2c_reply_window`], [`MockGateway::expire_replies`]; else `40034005`,
//!   `40034026`, `304027` in guilds), at most [`MockConfig::c2c_max_replies`] (4) per C2C
//!   and [`MockConfig::max_replies_per_message`] (5) per group message (else
//!   `40034128`), a (`msg_id`, `msg_seq`) pair used once (else `40054005`), no active
//!   message unless [`MockConfig::allow_active_messages`] (else `40034105`), markdown
//!   without `content`, keyboards of at most 5 × 5 (`40034029`), media uploaded for the
//!   same kind of chat (`304080`). Streams: indices rising, `replace` text extending
//!   what was delivered (`40007`), nothing after the final chunk (`40034018`). Chunked
//!   uploads: presigned URLs point back at the mock (`PUT /presigned/{upload_id}/{index}`),
//!   each part's size and MD5 checked at `upload_part_finish`, merging only a complete
//!   upload (`40093001`). Recall: the bot's own messages within 2 minutes (`40064004`).
//!   Interaction ACKs: once, within 3 s, code 0–5 (`630001`). Guilds, channels, roles,
//!   pins, schedules, menus, panels, join strategies… keep what the bot made.
//!   Rate limits, 5xx and any other refusal on demand
//!   ([`rate_limit_sends`](MockGateway::rate_limit_sends),
//!   [`fail_sends`](MockGateway::fail_sends), [`refuse_sends`](MockGateway::refuse_sends),
//!   [`fail_upload_parts`](MockGateway::fail_upload_parts), and anything else through
//!   [`openapi`](MockGateway::openapi)). Every call is in [`Record::api_calls`], with
//!   its headers; [`Record::messages_sent`] lists the accepted messages, to assert what
//!   a bot said.
//! * Events: a session receives only the events the intents of its IDENTIFY cover
//!   (READY, RESUMED and event names qqgw does not know always go through), as QQ does: a
//!   bot without [`Intents::GROUP_AND_C2C_EVENT`](qqgw_proto::Intents::GROUP_AND_C2C_EVENT)
//!   hears no `GROUP_AT_MESSAGE_CREATE`. The others are listed in [`Record::filtered`].
//!
//! Sequence numbers are per session and start at 1 with READY (RESUMED takes one too);
//! every dispatch gets an `id` of the form `"<T>:<uuid>"`.
//!
//! # Scripting
//!
//! Scripting methods take a shard id or [`Target::All`]. Events go to the shard's
//! current session (the one of its last READY) and are kept for replay; connection
//! actions ([`close`](MockGateway::close), [`drop_connection`](MockGateway::drop_connection),
//! [`reconnect`](MockGateway::reconnect), [`send_raw`](MockGateway::send_raw)…) go to
//! every open connection that authenticated as that shard. None of them needs `.await`.

mod config;
mod http;
mod openapi;
mod record;
mod state;
mod ws;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use config::MockConfig;
#[doc(no_inline)]
pub use qqgw_fake::openapi::{OpenApi, Scope};
pub use qqgw_fake::{QqConfig, Target};
pub use qqgw_proto::SessionStartLimit;
pub use record::{
    ApiCall, Auth, ConnectionRecord, HttpRequest, PacingKind, PacingViolation, ProtocolError, Record,
    Timeout, TokenOutcome, TokenRequest, UNKNOWN_SHARD,
};

use state::Shared;

/// A running mock gateway. Dropping it (or [`shutdown`](Self::shutdown)) stops it and
/// closes every connection.
///
/// Every scripting and observation method takes `&self` and needs no `.await`, so tests
/// on any runtime, or none, can drive it.
pub struct MockGateway {
    shared: Arc<Shared>,
    http_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    runtime: tokio::runtime::Handle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for MockGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockGateway")
            .field("api_base", &self.api_base())
            .field("gateway_url", &self.gateway_url())
            .finish_non_exhaustive()
    }
}

fn bind_std() -> io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

impl MockGateway {
    /// Starts the mock on the current tokio runtime (which must have IO and time
    /// enabled).
    ///
    /// # Errors
    ///
    /// If a listener cannot be bound.
    pub async fn start(config: MockConfig) -> io::Result<Self> {
        let http = TcpListener::bind(("127.0.0.1", 0)).await?;
        let ws = TcpListener::bind(("127.0.0.1", 0)).await?;
        let http_addr = http.local_addr()?;
        let shared = Arc::new(Shared::new(config, ws.local_addr()?));
        let gateway = shared.gateway_url();
        shared.update(|s, _| s.api.serve_at(http_addr, gateway));
        let (shutdown, shutdown_rx) = watch::channel(false);
        spawn_servers(&shared, http, ws, &shutdown_rx);
        Ok(Self { shared, http_addr, shutdown, runtime: tokio::runtime::Handle::current(), thread: None })
    }

    /// Starts the mock on its own tokio runtime on a background thread, for clients on
    /// other runtimes (async-std, smol) and for blocking code. Callable from anywhere,
    /// a tokio runtime included.
    ///
    /// # Errors
    ///
    /// If a listener cannot be bound or the runtime cannot be built.
    pub fn start_in_thread(config: MockConfig) -> io::Result<Self> {
        let http = bind_std()?;
        let ws = bind_std()?;
        let http_addr = http.local_addr()?;
        let shared = Arc::new(Shared::new(config, ws.local_addr()?));
        let gateway = shared.gateway_url();
        shared.update(|s, _| s.api.serve_at(http_addr, gateway));
        let (shutdown, mut shutdown_rx) = watch::channel(false);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new().name("qqgw-mock".into()).spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            runtime.block_on(async move {
                let listeners = TcpListener::from_std(http).and_then(|h| Ok((h, TcpListener::from_std(ws)?)));
                match listeners {
                    Ok((http, ws)) => {
                        spawn_servers(&thread_shared, http, ws, &shutdown_rx);
                        let _ = ready_tx.send(Ok(tokio::runtime::Handle::current()));
                        let _ = shutdown_rx.wait_for(|stop| *stop).await;
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            });
        })?;
        let runtime = ready_rx.recv().map_err(io::Error::other).and_then(|r| r)?;
        Ok(Self { shared, http_addr, shutdown, runtime, thread: Some(thread) })
    }

    /// Stops the mock: closes the listeners and drops every connection (without close
    /// frames). Same as dropping the handle.
    pub fn shutdown(self) {}

    // ---- addresses ---------------------------------------------------------------

    /// The settings the mock runs with.
    #[must_use]
    pub fn config(&self) -> &MockConfig {
        &self.shared.config
    }

    /// The API base, `http://127.0.0.1:<port>` (serves `/gateway` and `/gateway/bot`).
    #[must_use]
    pub fn api_base(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// The token endpoint, `http://127.0.0.1:<port>/app/getAppAccessToken`.
    #[must_use]
    pub fn token_url(&self) -> String {
        format!("{}/app/getAppAccessToken", self.api_base())
    }

    /// The WebSocket gateway, `ws://127.0.0.1:<port>/websocket/` (also what `/gateway`
    /// returns). Any path is accepted.
    #[must_use]
    pub fn gateway_url(&self) -> String {
        self.shared.gateway_url()
    }

    /// The environment variables that point a bot at this mock
    /// ([`Config::from_env`](qqgw_client::Config::from_env) reads them), in the order the
    /// `qqgw-mock` program prints them: the AppID and AppSecret, the token URL and API
    /// base, `QQ_BOT_ALLOW_INSECURE=1` (the mock is plaintext), and `QQ_BOT_INTENTS`: the
    /// intents every bot has ([`Intents::non_privileged`](qqgw_proto::Intents::non_privileged))
    /// plus those that `events` need, so that the bot receives them. Names are joined by
    /// `,`, which a shell neither splits nor pipes.
    ///
    /// ```no_run
    /// # async fn run(mock: qqgw_mock::MockGateway) {
    /// for (name, value) in mock.bot_env(&["GROUP_AT_MESSAGE_CREATE"]) {
    ///     println!("{name}={value}"); // …QQ_BOT_INTENTS=GUILDS,GUILD_MEMBERS,GROUP_AND_C2C_EVENT,PUBLIC_GUILD_MESSAGES
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn bot_env(&self, events: &[&str]) -> Vec<(&'static str, String)> {
        let kinds: Vec<_> = events.iter().map(|name| qqgw_proto::model::EventKind::from_name(name)).collect();
        let intents = qqgw_proto::Intents::non_privileged() | qqgw_proto::Intents::for_events(&kinds);
        vec![
            ("QQ_BOT_APP_ID", self.config().app_id.clone()),
            ("QQ_BOT_SECRET", self.config().secret.clone()),
            ("QQ_BOT_TOKEN_URL", self.token_url()),
            ("QQ_BOT_API_BASE", self.api_base()),
            ("QQ_BOT_ALLOW_INSECURE", "1".into()),
            ("QQ_BOT_INTENTS", intents.names().replace(" | ", ",")),
        ]
    }

    // ---- HTTP switches -------------------------------------------------------------

    /// While `true`, the token endpoint rejects every request with
    /// `{"code":100016,"message":"invalid appid or secret"}`.
    pub fn reject_credentials(&self, reject: bool) {
        self.shared.update(|s, _| s.qq.reject_credentials(reject));
    }

    /// The next `n` token requests fail with HTTP 500.
    pub fn fail_token_requests(&self, n: u32) {
        self.shared.update(|s, _| s.qq.fail_token_requests(n));
    }

    /// The next `n` token requests are answered with QQ's rate limit,
    /// `{"code":100001,"message":"too many requests"}` (alternately with HTTP 200 and 429).
    pub fn rate_limit_token_requests(&self, n: u32) {
        self.shared.update(|s, _| s.qq.rate_limit_token_requests(n));
    }

    /// Ends the reply window of every message and event dispatched so far: replies to
    /// them are refused as QQ refuses a passed window (`40034005` for a `msg_id`,
    /// `40034026` for an `event_id`, `304027` in guilds; HTTP 400).
    pub fn expire_replies(&self) {
        self.openapi(OpenApi::expire_replies);
    }

    /// The next `n` sends (messages, streams and uploads) are answered HTTP 429,
    /// `{"err_code":22009,…}`, without `Retry-After` (the client backs off on its own).
    pub fn rate_limit_sends(&self, n: u32) {
        self.openapi(|api| api.rate_limit(Scope::Sends, n, None));
    }

    /// The next `n` sends are answered HTTP 500, `{"err_code":50055002,…}` ("send
    /// error", retry later).
    pub fn fail_sends(&self, n: u32) {
        self.openapi(|api| api.fail(Scope::Sends, n));
    }

    /// The next `n` sends are refused with HTTP `status` and QQ's `code` (its message
    /// from the code table), after the token check — e.g. 400/11253 for no permission,
    /// or 202/304023 for a message held for review (which also carries
    /// `data.message_audit.audit_id`).
    pub fn refuse_sends(&self, n: u32, status: u16, code: i64) {
        self.openapi(|api| api.refuse(Scope::Sends, n, status, code));
    }

    /// The next `n` PUTs to presigned upload URLs are answered HTTP 500.
    pub fn fail_upload_parts(&self, n: u32) {
        self.openapi(|api| api.fail_upload_parts(n));
    }

    /// Runs `f` on the model of QQ's OpenAPI behind the mock: seed guilds, channels and
    /// members, script faults on any route ([`OpenApi::rate_limit`], [`OpenApi::refuse`]
    /// with [`Scope::All`]), change its rules ([`OpenApi::config_mut`]: upload part size,
    /// ACK deadline, permissions…), or read what it holds ([`OpenApi::stream`],
    /// [`OpenApi::upload`], [`OpenApi::acked`]).
    ///
    /// ```no_run
    /// # fn f(mock: qqgw_mock::MockGateway) {
    /// mock.openapi(|qq| qq.add_channel("GUILD", "CHANNEL", "general", 0));
    /// let stream_text = mock.openapi(|qq| qq.streams().values().next().map(|s| s.text.clone()));
    /// # }
    /// ```
    pub fn openapi<T>(&self, f: impl FnOnce(&mut OpenApi) -> T) -> T {
        self.shared.update(|s, _| f(&mut s.api.model))
    }

    /// Expires every token issued so far, as if their lifetime had run out: IDENTIFY and
    /// RESUME with them are closed with 4004, `/gateway` answers 401, and the next token
    /// request issues a new token.
    pub fn expire_tokens(&self) {
        self.shared.update(|s, _| {
            let now = s.at(Instant::now());
            s.qq.expire_tokens(now);
        });
    }

    // ---- events ------------------------------------------------------------------

    /// Sends the event `name` with data `d` on the current session of `shard` (or of
    /// every shard) and returns its `s` (the highest one for [`Target::All`]). `d` is
    /// any `Into<serde_json::Value>`: a `&str` becomes a JSON string; for raw JSON text
    /// parse it first, or send a whole frame with [`dispatch_frame`](Self::dispatch_frame).
    ///
    /// The event goes into the session's history whether or not a connection is open,
    /// and a RESUME replays it: this is how "events sent while disconnected" are
    /// scripted. Returns 0, sending nothing, if the shard never had a session or its
    /// session was invalidated, or if the session's intents do not cover the event (see
    /// [`Record::filtered`]).
    pub fn dispatch(&self, shard: impl Into<Target>, name: &str, d: impl Into<Value>) -> u64 {
        let (target, d) = (shard.into(), d.into());
        self.shared.update(|s, config| s.dispatch_to(config, target, name, &d.to_string()))
    }

    /// Sends a whole dispatch frame, such as one of the protocol fixtures, on `shard`'s
    /// current session: its `t`, `id` and `d` are kept, `s` is replaced by the session's
    /// next. Returns that `s`, or 0 if the frame has no string `t` or the shard has no
    /// session.
    pub fn dispatch_frame(&self, shard: u32, frame: &str) -> u64 {
        let Ok(frame) = serde_json::from_str::<Value>(frame) else { return 0 };
        let Some(name) = frame.get("t").and_then(Value::as_str) else { return 0 };
        let id = frame.get("id").and_then(Value::as_str);
        let d = frame.get("d").unwrap_or(&Value::Null).to_string();
        self.shared.update(|s, _| s.dispatch_json(shard, name, id, &d))
    }

    /// Sends `n` events `name` (with `d = {"n": i}`, `i` from 0) back to back on `shard`
    /// and returns the last `s` (0 without a session). The events are numbered in a few
    /// hundred at a time, so heartbeats are still answered during a large burst; a
    /// concurrent `dispatch` may land between two of them.
    pub fn burst(&self, shard: u32, n: usize, name: &str) -> u64 {
        const CHUNK: usize = 256;
        let mut last = 0;
        for start in (0..n).step_by(CHUNK) {
            last = self.shared.update(|s, _| {
                let mut last = 0;
                for i in start..n.min(start + CHUNK) {
                    last = s.dispatch_json(shard, name, None, &format!(r#"{{"n":{i}}}"#));
                }
                last
            });
            if last == 0 {
                break;
            }
        }
        last
    }

    // ---- connections ---------------------------------------------------------------

    /// Closes the connection(s) of `shard` with a close frame carrying `code` (e.g.
    /// 4009 for a session rotation). Returns how many connections were told.
    pub fn close(&self, shard: impl Into<Target>, code: u16) -> usize {
        let target = shard.into();
        self.shared.update(|s, _| s.close(target, code))
    }

    /// Drops the TCP connection(s) of `shard` without a close frame (the client sees the
    /// stream end, like a network failure).
    pub fn drop_connection(&self, shard: impl Into<Target>) -> usize {
        let target = shard.into();
        self.shared.update(|s, _| s.drop_connection(target))
    }

    /// Sends op 7 (`{"op":7}`): reconnect and RESUME.
    pub fn reconnect(&self, shard: impl Into<Target>) -> usize {
        let target = shard.into();
        self.shared.update(|s, _| s.qq.reconnect(target))
    }

    /// Sends op 9 `{"op":9,"d":<resumable>}`. With `false` the session is forgotten too:
    /// a RESUME of it gets op 9 and events need a new IDENTIFY.
    pub fn invalid_session(&self, shard: impl Into<Target>, resumable: bool) -> usize {
        let target = shard.into();
        self.shared.update(|s, _| s.qq.invalid_session(target, resumable))
    }

    /// While `true`, heartbeats of `shard` get no ACK (a zombie connection).
    pub fn withhold_acks(&self, shard: impl Into<Target>, withhold: bool) {
        let target = shard.into();
        self.shared.update(|s, _| s.qq.withhold_acks(target, withhold));
    }

    /// Turns the connection(s) of `shard` into zombies, as a dead peer looks to the client:
    /// nothing more is written (no ACKs, no events, no answer to a close frame), the TCP
    /// connection stays open, and what the client sends is still recorded. Events for the
    /// shard meanwhile stay in its session, for the RESUME's replay.
    pub fn zombie(&self, shard: impl Into<Target>) -> usize {
        let target = shard.into();
        self.shared.update(|s, _| s.zombie(target))
    }

    /// Sends `text` as is in a text frame (garbage, unknown opcodes…).
    pub fn send_raw(&self, shard: impl Into<Target>, text: &str) -> usize {
        let target = shard.into();
        self.shared.update(|s, _| s.send_raw(target, text))
    }

    /// Sends `bytes` in a binary frame.
    pub fn send_binary(&self, shard: impl Into<Target>, bytes: &[u8]) -> usize {
        let target = shard.into();
        self.shared.update(|s, _| s.send_binary(target, bytes))
    }

    /// Makes the current session of `shard` unresumable (a RESUME gets op 9 `false`),
    /// as QQ does after a while. The connection is left alone; follow with
    /// [`close`](Self::close) to force the client to find out.
    pub fn expire_session(&self, shard: impl Into<Target>) {
        let target = shard.into();
        self.shared.update(|s, _| s.qq.expire_session(target));
    }

    /// Refuses the next `n` RESUMEs of `shard`'s sessions with op 9 `false`, which ends
    /// the session, as QQ's op 9 `false` does: the client must IDENTIFY.
    pub fn refuse_resumes(&self, shard: impl Into<Target>, n: u32) {
        let target = shard.into();
        self.shared.update(|s, _| s.refuse_resumes(target, n));
    }

    // ---- observation ---------------------------------------------------------------

    /// A snapshot of everything observed so far.
    #[must_use]
    pub fn record(&self) -> Record {
        self.shared.lock().record.clone()
    }

    /// Whether the current session of `shard` has an open connection.
    #[must_use]
    pub fn connected(&self, shard: u32) -> bool {
        self.shared.lock().connected(shard)
    }

    /// The current session id of `shard`.
    #[must_use]
    pub fn session_id(&self, shard: u32) -> Option<String> {
        self.shared.lock().session_id(shard)
    }

    /// The last `s` sent (or reserved) in the current session of `shard`.
    #[must_use]
    pub fn last_seq(&self, shard: u32) -> Option<u64> {
        self.shared.lock().last_seq(shard)
    }

    /// Waits until `condition` holds for the record, then returns a snapshot of it.
    /// Woken by every change, no polling. Works on any async runtime.
    ///
    /// # Errors
    ///
    /// [`Timeout`], with the last record, if `condition` does not hold within `timeout`.
    pub async fn wait_until(
        &self,
        mut condition: impl FnMut(&Record) -> bool,
        timeout: Duration,
    ) -> Result<Record, Timeout> {
        let deadline = Instant::now() + timeout;
        let shared = Arc::clone(&self.shared);
        // The mock's runtime provides the timer, so the caller's runtime does not matter.
        let timer = self.runtime.spawn(async move {
            tokio::time::sleep(timeout).await;
            shared.changed.notify_waiters();
        });
        let result = loop {
            let notified = self.shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let state = self.shared.lock();
                if condition(&state.record) {
                    break Ok(state.record.clone());
                }
                if Instant::now() >= deadline {
                    break Err(Timeout(Box::new(state.record.clone())));
                }
            }
            notified.await;
        };
        timer.abort();
        result
    }

    /// [`wait_until`](Self::wait_until) for blocking code: checks `condition` every
    /// couple of milliseconds on the calling thread. Do not call it on the thread of a
    /// runtime the mock runs on.
    ///
    /// # Errors
    ///
    /// [`Timeout`], with the last record, if `condition` does not hold within `timeout`.
    pub fn wait_until_blocking(
        &self,
        mut condition: impl FnMut(&Record) -> bool,
        timeout: Duration,
    ) -> Result<Record, Timeout> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let state = self.shared.lock();
                if condition(&state.record) {
                    return Ok(state.record.clone());
                }
                if Instant::now() >= deadline {
                    return Err(Timeout(Box::new(state.record.clone())));
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for MockGateway {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn spawn_servers(shared: &Arc<Shared>, http: TcpListener, ws: TcpListener, shutdown: &watch::Receiver<bool>) {
    let (shared_http, mut stop) = (Arc::clone(shared), shutdown.clone());
    let conn_stop = shutdown.clone();
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                accepted = http.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::debug!("HTTP accept failed: {e}");
                        continue;
                    }
                },
                _ = stop.changed() => break,
            };
            let (shared, mut stop) = (Arc::clone(&shared_http), conn_stop.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request| http::handle(Arc::clone(&shared), request));
                let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                tokio::select! {
                    result = connection => if let Err(e) = result {
                        tracing::debug!("HTTP connection failed: {e}");
                    },
                    _ = stop.changed() => {}
                }
            });
        }
    });
    let (shared_ws, mut stop) = (Arc::clone(shared), shutdown.clone());
    let conn_stop = shutdown.clone();
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                accepted = ws.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::debug!("WebSocket accept failed: {e}");
                        continue;
                    }
                },
                _ = stop.changed() => break,
            };
            tokio::spawn(ws::serve(Arc::clone(&shared_ws), stream, conn_stop.clone()));
        }
    });
}
