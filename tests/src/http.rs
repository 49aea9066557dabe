//! The HTTP side: the token endpoint and gateway discovery.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;

use crate::record::HttpRequest;
use crate::state::Shared;

/// Bodies larger than this are refused; token requests are a few dozen bytes.
const MAX_BODY: usize = 64 * 1024;

pub(crate) async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let now = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let header =
        |name| request.headers().get(name).and_then(|v: &HeaderValue| v.to_str().ok()).map(str::to_owned);
    let content_type = header(CONTENT_TYPE);
    let authorization = header(AUTHORIZATION);

    let (status, body) = match (&method, path.as_str()) {
        (&Method::POST, "/app/getAppAccessToken") => {
            let json_content_type = content_type
                .is_some_and(|c| c.trim_start().to_ascii_lowercase().starts_with("application/json"));
            match Limited::new(request.into_body(), MAX_BODY).collect().await {
                Ok(body) => {
                    let body = body.to_bytes();
                    shared.update(|s, config| s.token_request(config, now, json_content_type, &body))
                }
                Err(_) => (400, json!({"code": 400, "message": "unreadable body"}).to_string()),
            }
        }
        (&Method::GET, "/gateway" | "/gateway/bot") => {
            let bot = path == "/gateway/bot";
            shared.lock().gateway(&shared, now, authorization.as_deref(), bot)
        }
        (&Method::POST, path) if crate::openapi::is_send_path(path) => {
            match Limited::new(request.into_body(), MAX_BODY).collect().await {
                Ok(body) => {
                    let body = body.to_bytes();
                    shared.update(|s, config| s.openapi(config, now, authorization.as_deref(), path, &body))
                }
                Err(_) => (400, json!({"code": 400, "message": "unreadable body"}).to_string()),
            }
        }
        _ => (404, json!({"code": 404, "message": "not found"}).to_string()),
    };
    tracing::debug!(%method, path, status, "HTTP");
    shared.update(|s, _| {
        s.record.http_requests.push(HttpRequest { at: now, method: method.to_string(), path, status });
    });
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}
