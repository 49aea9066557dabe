//! The HTTP side: the token endpoint and gateway discovery (the gateway's), and every
//! other route of QQ's OpenAPI, answered by `qqgw-fake`'s model.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;

use crate::record::{ApiCall, HttpRequest};
use crate::state::Shared;

/// Bodies larger than this are refused; token requests and QQ's JSON bodies are small.
const MAX_BODY: usize = 1024 * 1024;
/// A part PUT to a presigned upload URL may be this large (QQ's parts are 5–10 MiB).
const MAX_PART: usize = 32 * 1024 * 1024;

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
            let (status, body) = shared.lock().gateway(&shared, now, authorization.as_deref(), bot);
            let route = if bot {
                qqgw_proto::openapi::Route::GetGatewayBot
            } else {
                qqgw_proto::openapi::Route::GetGateway
            };
            let answer: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            shared.update(|s, _| {
                s.record.api_calls.push(ApiCall {
                    at: now,
                    method: method.to_string(),
                    path: path.clone(),
                    route: Some(route),
                    params: Vec::new(),
                    authorization: authorization.clone(),
                    content_type: content_type.clone(),
                    body: serde_json::Value::Null,
                    status,
                    code: answer.get("code").and_then(serde_json::Value::as_i64),
                    answer,
                });
            });
            (status, body)
        }
        _ => {
            let limit = if method == Method::PUT { MAX_PART } else { MAX_BODY };
            let path_and_query =
                request.uri().path_and_query().map_or(path.clone(), |p| p.as_str().to_owned());
            match Limited::new(request.into_body(), limit).collect().await {
                Ok(body) => {
                    let body = body.to_bytes();
                    let answer = shared.update(|s, _| {
                        let authorized = authorization.as_deref().is_some_and(|a| s.token_valid(a, now));
                        let at = s.api.now(now);
                        let answer =
                            s.api.model.handle(at, method.as_str(), &path_and_query, authorized, &body);
                        for call in s.api.model.take_calls() {
                            s.record.api_calls.push(ApiCall {
                                at: now,
                                method: call.method,
                                path: call.path,
                                route: call.route,
                                params: call.params,
                                authorization: authorization.clone(),
                                content_type: content_type.clone(),
                                body: call.body,
                                status: call.status,
                                code: call.code,
                                answer: call.answer,
                            });
                        }
                        answer
                    });
                    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
                    *response.status_mut() =
                        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    for (name, value) in answer.headers {
                        if let Ok(value) = HeaderValue::from_str(&value) {
                            response.headers_mut().insert(name, value);
                        }
                    }
                    tracing::debug!(%method, path, status = answer.status, "HTTP");
                    shared.update(|s, _| {
                        let status = answer.status;
                        s.record.http_requests.push(HttpRequest {
                            at: now,
                            method: method.to_string(),
                            path,
                            status,
                        });
                    });
                    return Ok(response);
                }
                Err(_) => (413, json!({"code": 413, "message": "body too large or unreadable"}).to_string()),
            }
        }
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
