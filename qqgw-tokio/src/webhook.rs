//! A ready webhook endpoint: QQ's HTTP callbacks in, the same events out as the gateway.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use qqgw_client::{Event, EventSender, ShardEvent, ShardEvents, event_channel};
use qqgw_proto::webhook::{CONTENT_TYPE, Outcome, WebhookRequest};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::watch;
use tracing::{debug, info, warn};

/// The framework-neutral core the server runs every request through, re-exported so a bot
/// needs no direct dependency on `qqgw-proto`.
pub use qqgw_proto::webhook::Webhook;

/// An HTTP server for QQ's webhook (HTTP callback) delivery, on tokio with hyper.
///
/// Every `POST` goes through [`Webhook::handle`]: op 13 validations are answered, signed
/// events become [`Event::Dispatch`] on the [`ShardEvents`] stream — the same events, with
/// the same de-duplication, as the gateway — and everything else is refused with a clear
/// status. Serve the stream with [`run_handler`](qqgw_client::run_handler) and your
/// [`EventHandler`](crate::EventHandler), or read it yourself. Each event is accepted into
/// the stream's buffer before QQ gets its 200, so a full buffer slows QQ down instead of
/// losing events (QQ retries; repeats are dropped).
///
/// QQ only calls HTTPS URLs on ports 80, 443, 8080 or 8443: put a TLS-terminating proxy in
/// front, or serve through your own server with [`Webhook::handle`] directly.
///
/// # Examples
///
/// ```no_run
/// use qqgw_tokio::webhook::WebhookServer;
/// use qqgw_tokio::{Context, EventHandler, model::GroupMessage};
/// use qqgw_proto::webhook::Webhook;
///
/// struct Bot;
/// impl EventHandler for Bot {
///     async fn group_at_message_create(&self, _ctx: Context, msg: GroupMessage) {
///         println!("{:?}", msg.content);
///     }
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let webhook = Webhook::from_secret(&std::env::var("QQ_BOT_SECRET")?)?;
/// let (server, events) = WebhookServer::bind("127.0.0.1:8080", webhook).await?;
/// println!("listening on {}", server.local_addr());
/// qqgw_tokio::run_handler(events, &Bot).await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct WebhookServer {
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
}

struct State {
    webhook: Mutex<Webhook>,
    max_body: usize,
    events: EventSender,
}

impl WebhookServer {
    /// Binds `addr` and serves `webhook` there until the server is dropped. Events come
    /// out of the returned stream, which buffers up to 1024.
    ///
    /// # Errors
    ///
    /// If the address cannot be bound.
    pub async fn bind(addr: impl ToSocketAddrs, webhook: Webhook) -> io::Result<(Self, ShardEvents)> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let (events, stream) = event_channel(1024);
        let max_body = webhook.max_body_size();
        let state = Arc::new(State { webhook: Mutex::new(webhook), max_body, events });
        let (shutdown, mut stopped) = watch::channel(false);
        info!(%local_addr, "webhook endpoint listening");
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    _ = stopped.changed() => return,
                };
                let (stream, peer) = match accepted {
                    Ok(connection) => connection,
                    Err(error) => {
                        warn!(%error, "accept failed");
                        continue;
                    }
                };
                let state = Arc::clone(&state);
                let mut stopped = stopped.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| handle(Arc::clone(&state), request));
                    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                    tokio::select! {
                        result = connection => {
                            if let Err(error) = result {
                                debug!(%peer, %error, "webhook connection ended");
                            }
                        }
                        _ = stopped.changed() => {}
                    }
                });
            }
        });
        Ok((Self { local_addr, shutdown }, stream))
    }

    /// The address the server listens on.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Drop for WebhookServer {
    /// Stops accepting and closes open connections; the event stream then ends.
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

async fn handle(state: Arc<State>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.method() != Method::POST {
        return Ok(respond(
            StatusCode::METHOD_NOT_ALLOWED.as_u16(),
            r#"{"error":"method_not_allowed"}"#.into(),
        ));
    }
    let (parts, body) = request.into_parts();
    // A declared length over the limit is refused before a byte of the body is read.
    let declared = parts
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > state.max_body as u64) {
        return Ok(respond(StatusCode::PAYLOAD_TOO_LARGE.as_u16(), r#"{"error":"body_too_large"}"#.into()));
    }
    // One byte more than allowed is enough for the webhook to refuse an oversized body.
    let body = match Limited::new(body, state.max_body.saturating_add(1)).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Ok(respond(
                StatusCode::PAYLOAD_TOO_LARGE.as_u16(),
                r#"{"error":"body_too_large"}"#.into(),
            ));
        }
    };
    let headers =
        parts.headers.iter().filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)));
    let unix_now = SystemTime::now().duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs());
    let response = {
        let mut webhook = state.webhook.lock().unwrap_or_else(PoisonError::into_inner);
        webhook.handle(WebhookRequest::from_headers(headers, &body, unix_now))
    };
    match response.outcome {
        Outcome::Dispatch(dispatch) => {
            debug!(name = dispatch.name(), id = dispatch.id(), "webhook event");
            let event = ShardEvent::new(dispatch.shard(), Event::Dispatch(dispatch));
            if !state.events.clone().send(event).await {
                warn!("webhook event dropped: nobody reads the event stream");
            }
        }
        Outcome::Validated { plain_token } => info!(plain_token, "callback address validated"),
        Outcome::Duplicate { id } => debug!(id, "repeated webhook event dropped"),
        Outcome::Rejected(error) => warn!(%error, "webhook request refused"),
        other => debug!(?other, "webhook request"),
    }
    Ok(respond(response.status, response.body))
}

fn respond(status: u16, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(CONTENT_TYPE));
    response
}
