//! `/metrics` (Prometheus text), `/healthz` (alive) and `/readyz` (ready for traffic), on
//! one small HTTP server whose every resource is bounded.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Connections served at once; more are closed at once.
const MAX_CONNECTIONS: usize = 64;
/// How long a request head may take, and a connection sit idle.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a connection may stay open.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);

/// Whether the gateway is ready, and why not: what `/readyz` answers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Readiness {
    pub(crate) ready: bool,
    /// One line: what is ready, or what is missing.
    pub(crate) detail: String,
}

/// What the server reads.
#[derive(Clone)]
pub(crate) struct Health {
    pub(crate) metrics: PrometheusHandle,
    pub(crate) readiness: Arc<Mutex<Readiness>>,
}

/// Serves on `listener` until the process ends.
pub(crate) fn serve(listener: TcpListener, health: Health) {
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else { continue };
            let health = health.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let health = health.clone();
                    async move { Ok::<_, Infallible>(answer(&health, &request)) }
                });
                let mut builder = http1::Builder::new();
                builder.timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT).max_buf_size(16 << 10);
                let connection = builder.serve_connection(TokioIo::new(stream), service);
                let _ = tokio::time::timeout(CONNECTION_LIFETIME, connection).await;
                drop(permit);
            });
        }
    });
}

/// Binds `addr`.
pub(crate) async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

fn answer(health: &Health, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return respond(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "GET only\n".into());
    }
    match request.uri().path() {
        "/metrics" => respond(StatusCode::OK, "text/plain; version=0.0.4", health.metrics.render()),
        "/healthz" => respond(StatusCode::OK, "text/plain", "ok\n".into()),
        "/readyz" => {
            let readiness = health.readiness.lock().unwrap_or_else(PoisonError::into_inner).clone();
            let status = if readiness.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
            respond(status, "text/plain", format!("{}\n", readiness.detail))
        }
        _ => respond(StatusCode::NOT_FOUND, "text/plain", "/metrics, /healthz or /readyz\n".into()),
    }
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
