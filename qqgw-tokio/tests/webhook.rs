//! End-to-end: signed callbacks POSTed over loopback to the webhook endpoint.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use qqgw_proto::webhook::{Webhook, WebhookKey};
use qqgw_proto::{Dispatch, ShardId};
use qqgw_tokio::model::GroupMessage;
use qqgw_tokio::webhook::WebhookServer;
use qqgw_tokio::{Context, Event, EventHandler, ShardEvents};

/// The secret of QQ-GATEWAY §10.4's vectors.
const SECRET: &str = "DG5g3B4j9X2KOErG";
const WAIT: Duration = Duration::from_secs(10);

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/frames")
        .join(format!("{name}.json"));
    std::fs::read_to_string(path).unwrap()
}

/// POSTs `body` with `headers`; returns the status and body.
async fn post(url: String, headers: Vec<(String, String)>, body: String) -> (u16, String) {
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent =
            ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
        let mut request = agent
            .post(&url)
            .header("Content-Type", "application/json")
            .header("User-Agent", "QQBot-Callback");
        for (name, value) in &headers {
            request = request.header(name, value);
        }
        let mut response = request.send(body).unwrap();
        (response.status().as_u16(), response.body_mut().read_to_string().unwrap())
    })
    .await
    .unwrap()
}

/// Sends the head of a signed POST declaring a `length`-byte body, and no body; returns
/// everything the server answers before it closes the connection.
async fn head_only(url: &str, length: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\nConnection: close\r\n"
    );
    for (name, value) in signed("{}", &now()) {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8(answer).unwrap()
}

fn now() -> String {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs().to_string()
}

/// Signed headers for `body`, as QQ sends them.
fn signed(body: &str, timestamp: &str) -> Vec<(String, String)> {
    let key = WebhookKey::from_secret(SECRET).unwrap();
    vec![
        ("X-Signature-Ed25519".into(), key.sign_callback(timestamp, body.as_bytes())),
        ("X-Signature-Timestamp".into(), timestamp.into()),
        ("X-Signature-Method".into(), "Ed25519".into()),
        ("X-Bot-Appid".into(), "102012345".into()),
    ]
}

async fn server() -> (WebhookServer, ShardEvents, String) {
    let (server, events) =
        WebhookServer::bind("127.0.0.1:0", Webhook::from_secret(SECRET).unwrap()).await.unwrap();
    let url = format!("http://{}/qqbot/callback", server.local_addr());
    (server, events, url)
}

#[tokio::test]
async fn the_address_check_is_answered_with_the_documented_signature() {
    tokio::time::timeout(WAIT, async {
        let (_server, _events, url) = server().await;
        let validation = fixture("WEBHOOK_VALIDATION");
        // Unsigned, it is refused: its answer would be a signature anyone could reuse.
        let (status, body) = post(url.clone(), Vec::new(), validation.clone()).await;
        assert_eq!((status, body.as_str()), (401, r#"{"error":"unauthorized"}"#));
        // Signed, as QQ sends it.
        let (status, body) = post(url, signed(&validation, &now()), validation).await;
        assert_eq!(status, 200);
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["plain_token"], "Arq0D5A61EgUu4OxUvOp");
        assert_eq!(
            body["signature"],
            "87befc99c42c651b3aac0278e71ada338433ae26fcb24307bdc5ad38c1adc2d01bcfcadc0842edac85e85205028a1132afe09280305f13aa6909ffc2d652c706"
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn signed_events_arrive_once_as_the_gateway_would_deliver_them() {
    tokio::time::timeout(WAIT, async {
        let (_server, mut events, url) = server().await;
        let frame = fixture("GROUP_AT_MESSAGE_CREATE");
        let timestamp = now();
        let (status, body) = post(url.clone(), signed(&frame, &timestamp), frame.clone()).await;
        assert_eq!((status, body.as_str()), (200, r#"{"op":12,"d":0}"#));
        let event = events.next().await.unwrap();
        let Event::Dispatch(dispatch) = event.event else { panic!("{:?}", event.event) };
        assert_eq!(dispatch, Dispatch::from_frame(&frame, ShardId::ONE).unwrap());

        // QQ retries the same event: answered 200, delivered once.
        let later = (timestamp.parse::<u64>().unwrap() + 2).to_string();
        let (status, _) = post(url.clone(), signed(&frame, &later), frame.clone()).await;
        assert_eq!(status, 200);
        let other = fixture("C2C_MESSAGE_CREATE");
        post(url, signed(&other, &now()), other.clone()).await;
        let next = events.next().await.unwrap();
        let Event::Dispatch(next) = next.event else { panic!() };
        assert_eq!(next.name(), "C2C_MESSAGE_CREATE", "the retry was not delivered again");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn forged_stale_and_malformed_requests_are_refused() {
    tokio::time::timeout(WAIT, async {
        let (_server, mut events, url) = server().await;
        let frame = fixture("AT_MESSAGE_CREATE");
        let tampered = frame.replace("深圳", "北京");
        let cases = [
            (signed(&frame, &now()), tampered.clone(), 401),
            (Vec::new(), frame.clone(), 401),
            (signed(&frame, "1000000000"), frame.clone(), 401),
            (signed("not json", &now()), "not json".to_owned(), 400),
        ];
        for (headers, body, expected) in cases {
            let (status, answer) = post(url.clone(), headers, body).await;
            assert_eq!(status, expected, "{answer}");
            assert!(serde_json::from_str::<serde_json::Value>(&answer).is_ok(), "{answer}");
        }
        // An oversized body is refused on its declared length, before it is sent: the
        // client sends only the head, so nothing races the server's early answer and close.
        let answer = head_only(&url, 2 << 20).await;
        assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
        assert!(answer.ends_with(r#"{"error":"body_too_large"}"#), "{answer}");
        let nothing = tokio::time::timeout(Duration::from_millis(200), events.next()).await;
        assert!(nothing.is_err(), "no refused request produced an event");
    })
    .await
    .unwrap();
}

#[derive(Clone, Default)]
struct Groups(Arc<Mutex<Vec<String>>>);

impl EventHandler for Groups {
    async fn group_at_message_create(&self, ctx: Context, msg: GroupMessage) {
        self.0.lock().unwrap().push(format!(
            "{} {}",
            ctx.event_id().unwrap_or_default(),
            msg.content.unwrap_or_default()
        ));
    }
}

#[tokio::test]
async fn the_same_event_handler_serves_webhook_events() {
    tokio::time::timeout(WAIT, async {
        let (server, events, url) = server().await;
        let groups = Groups::default();
        let handler = groups.clone();
        let running = tokio::spawn(async move { qqgw_tokio::run_handler(events, &handler).await });
        let frame = fixture("GROUP_AT_MESSAGE_CREATE");
        post(url, signed(&frame, &now()), frame).await;
        while groups.0.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(server);
        running.await.unwrap();
        let seen = groups.0.lock().unwrap().clone();
        assert_eq!(seen.len(), 1);
        assert!(seen[0].starts_with("GROUP_AT_MESSAGE_CREATE:") && seen[0].ends_with(" /签到"), "{seen:?}");
    })
    .await
    .unwrap();
}

/// Writes `request` on a fresh connection and returns everything the server answers
/// before it closes (or the first answer, for a keep-alive connection, up to `limit`).
async fn raw(addr: std::net::SocketAddr, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn method_path_and_content_type_are_checked_before_the_body() {
    tokio::time::timeout(WAIT, async {
        let webhook = Webhook::from_secret(SECRET).unwrap();
        let (server, _events) =
            WebhookServer::builder(webhook).path("/qqbot/callback").bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr();
        // Each declares a body it never sends: an answer proves the body was not waited for.
        let cases = [
            ("GET /qqbot/callback", "application/json", "405 ", "method_not_allowed"),
            ("POST /elsewhere", "application/json", "404 ", "not_found"),
            ("POST /qqbot/callback", "text/plain", "415 ", "unsupported_media_type"),
            ("POST /qqbot/callback", "application/json", "401 ", "unauthorized"),
        ];
        for (line, content_type, status, error) in cases {
            let head = format!(
                "{line} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n"
            );
            let answer = raw(addr, head.as_bytes()).await;
            assert!(answer.starts_with(&format!("HTTP/1.1 {status}")), "{line}: {answer}");
            assert!(answer.ends_with(&format!(r#"{{"error":"{error}"}}"#)), "{line}: {answer}");
        }
        let metrics = server.metrics();
        assert_eq!((metrics.bad_requests, metrics.unauthorized, metrics.delivered), (3, 1, 0), "{metrics:?}");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_body_sent_in_several_chunks_is_verified_whole() {
    tokio::time::timeout(WAIT, async {
        use tokio::io::AsyncWriteExt;
        let (server, mut events, _url) = server().await;
        let frame = fixture("GROUP_AT_MESSAGE_CREATE");
        let timestamp = now();
        let headers: String =
            signed(&frame, &timestamp).iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
        let (first, rest) = frame.split_at(frame.len() / 3);
        let (second, third) = rest.split_at(rest.len() / 2);
        let mut stream = tokio::net::TcpStream::connect(server.local_addr()).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let head = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n{headers}\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        // Each chunk on its own, so that the server reads the body as several frames.
        for chunk in [first, second, third] {
            stream.write_all(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes()).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stream.write_all(b"0\r\n\r\n").await.unwrap();
        let mut answer = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut answer).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
        assert!(answer.ends_with(r#"{"op":12,"d":0}"#), "{answer}");
        let event = events.next().await.unwrap();
        let Event::Dispatch(dispatch) = event.event else { panic!("{:?}", event.event) };
        assert_eq!(dispatch, Dispatch::from_frame(&frame, ShardId::ONE).unwrap());
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_full_queue_answers_503_and_the_retry_is_delivered() {
    tokio::time::timeout(WAIT, async {
        let webhook = Webhook::from_secret(SECRET).unwrap();
        let (server, mut events) =
            WebhookServer::builder(webhook).queue(2).bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", server.local_addr());
        let body = |i: usize| format!(r#"{{"op":0,"id":"E:{i}","t":"E","d":{{}}}}"#);
        // Concurrent requests, nobody reading: exactly the queue's two are taken.
        let requests: Vec<_> = (0..6)
            .map(|i| {
                let (url, body) = (url.clone(), body(i));
                tokio::spawn(async move { post(url, signed(&body, &now()), body).await.0 })
            })
            .collect();
        let mut statuses = Vec::new();
        for request in requests {
            statuses.push(request.await.unwrap());
        }
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 200, 503, 503, 503, 503]);
        assert_eq!(server.metrics().queue_full, 4);
        // The consumer catches up; QQ's retries of the refused ones are delivered, once each.
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..2 {
            let Event::Dispatch(d) = events.next().await.unwrap().event else { panic!() };
            seen.insert(d.id().unwrap().to_owned());
        }
        for i in 0..6 {
            let (status, _) = post(url.clone(), signed(&body(i), &now()), body(i)).await;
            assert_eq!(status, 200, "{i}");
            if !seen.contains(&format!("E:{i}")) {
                let Event::Dispatch(d) = events.next().await.unwrap().event else { panic!() };
                assert!(seen.insert(d.id().unwrap().to_owned()), "delivered twice: {d:?}");
            }
        }
        assert_eq!(seen.len(), 6);
        assert_eq!(server.metrics().delivered, 6);
        let nothing = tokio::time::timeout(Duration::from_millis(100), events.next()).await;
        assert!(nothing.is_err(), "nothing more");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn slow_heads_idle_connections_and_slow_bodies_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tokio::time::timeout(WAIT, async {
        let webhook = Webhook::from_secret(SECRET).unwrap();
        let (server, _events) = WebhookServer::builder(webhook)
            .header_timeout(Duration::from_millis(300))
            .body_timeout(Duration::from_millis(300))
            .bind("127.0.0.1:0")
            .await
            .unwrap();
        let addr = server.local_addr();
        let started = std::time::Instant::now();
        // Half a request line, and a connection that never sends anything.
        let mut half = tokio::net::TcpStream::connect(addr).await.unwrap();
        half.write_all(b"POST / HT").await.unwrap();
        let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut sink = Vec::new();
        assert_eq!(half.read_to_end(&mut sink).await.unwrap_or(0), 0);
        assert_eq!(idle.read_to_end(&mut sink).await.unwrap_or(0), 0);
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(250) && waited < Duration::from_secs(3), "{waited:?}");

        // A signed head, then only half the body.
        let body = fixture("C2C_MESSAGE_CREATE");
        let mut head = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in signed(&body, &now()) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        head.push_str(&body[..body.len() / 2]);
        let answer = raw_keep_open(addr, head.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
        let metrics = server.metrics();
        assert_eq!((metrics.header_timeouts, metrics.body_timeouts), (2, 1), "{metrics:?}");
    })
    .await
    .unwrap();
}

/// Like [`raw`], but reads only until the first answer's body has arrived.
async fn raw_keep_open(addr: std::net::SocketAddr, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).ends_with('}') {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_body_longer_than_declared_or_chunked_past_the_limit_is_cut_off() {
    tokio::time::timeout(WAIT, async {
        let webhook = Webhook::from_secret(SECRET).unwrap().with_max_body_size(1000);
        let (server, _events) = WebhookServer::builder(webhook).bind("127.0.0.1:0").await.unwrap();
        let body = "x".repeat(3000);
        let mut head = String::from(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n",
        );
        for (name, value) in signed(&body, &now()) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("\r\n{:x}\r\n{body}\r\n0\r\n\r\n", body.len()));
        let answer = raw_keep_open(server.local_addr(), head.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
        assert!(answer.ends_with(r#"{"error":"body_too_large"}"#), "{answer}");
        assert_eq!(server.metrics().too_large, 1);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn with_ack_after_handled_qq_gets_its_200_only_once_the_handler_returned() {
    tokio::time::timeout(WAIT, async {
        let webhook = qqgw_tokio::webhook::Webhook::from_secret(SECRET).unwrap();
        let (server, events) = WebhookServer::builder(webhook)
            .ack_after_handled(Duration::from_millis(500))
            .bind("127.0.0.1:0")
            .await
            .unwrap();
        let url = format!("http://{}/qqbot/callback", server.local_addr());
        let frame = fixture("GROUP_AT_MESSAGE_CREATE");

        // Nobody handles it in time: 503, and QQ's retry is delivered again.
        let (status, _) = post(url.clone(), signed(&frame, &now()), frame.clone()).await;
        assert_eq!(status, 503);

        // Now a handler that takes 200 ms: the answer waits for it.
        let groups = Groups::default();
        let handler = groups.clone();
        let running = tokio::spawn(async move {
            qqgw_tokio::run_handler(events, &SlowGroups(handler)).await;
        });
        let (status, _) = post(url.clone(), signed(&frame, &now()), frame.clone()).await;
        assert_eq!(status, 200);
        let seen = groups.0.lock().unwrap().len();
        assert!(seen >= 1, "answered before the handler finished");
        drop(server);
        running.await.unwrap();
    })
    .await
    .unwrap();
}

/// A retry of an event still being handled is answered 503 — never 200, since the
/// handling may still fail — and is not delivered a second time; once the event is
/// handled, a retry is a plain duplicate, answered 200.
#[tokio::test]
async fn with_ack_after_handled_a_retry_while_the_event_is_handled_is_answered_503() {
    tokio::time::timeout(WAIT, async {
        let webhook = qqgw_tokio::webhook::Webhook::from_secret(SECRET).unwrap();
        let (server, events) = WebhookServer::builder(webhook)
            .ack_after_handled(Duration::from_secs(2))
            .bind("127.0.0.1:0")
            .await
            .unwrap();
        let url = format!("http://{}/qqbot/callback", server.local_addr());
        let frame = fixture("GROUP_AT_MESSAGE_CREATE");
        let groups = Groups::default();
        let gate = Arc::new(tokio::sync::Notify::new());
        let handler = GatedGroups(groups.clone(), Arc::clone(&gate));
        let running = tokio::spawn(async move {
            qqgw_tokio::run_handler(events, &handler).await;
        });
        let first = tokio::spawn(post(url.clone(), signed(&frame, &now()), frame.clone()));
        // The retry while the handler waits for the gate.
        while server.metrics().delivered == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (status, body) = post(url.clone(), signed(&frame, &now()), frame.clone()).await;
        assert_eq!(status, 503, "{body}");
        gate.notify_one();
        assert_eq!(first.await.unwrap().0, 200);
        let (status, _) = post(url.clone(), signed(&frame, &now()), frame.clone()).await;
        assert_eq!(status, 200, "handled: a duplicate now");
        assert_eq!(groups.0.lock().unwrap().len(), 1, "delivered once");
        let metrics = server.metrics();
        assert_eq!((metrics.in_progress, metrics.duplicates, metrics.delivered), (1, 1, 1));
        drop(server);
        running.await.unwrap();
    })
    .await
    .unwrap();
}

/// Handles a group message once the test opens the gate.
struct GatedGroups(Groups, Arc<tokio::sync::Notify>);

impl EventHandler for GatedGroups {
    async fn group_at_message_create(&self, ctx: Context, msg: GroupMessage) {
        self.1.notified().await;
        self.0.group_at_message_create(ctx, msg).await;
    }
}

struct SlowGroups(Groups);

impl EventHandler for SlowGroups {
    async fn group_at_message_create(&self, ctx: Context, msg: GroupMessage) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.0.group_at_message_create(ctx, msg).await;
    }
}

/// Polls `done` every 10 ms for at most `limit`.
async fn wait_for(what: &str, limit: Duration, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_connection_serves_at_most_its_request_limit_and_pipelined_extras_are_not_read() {
    tokio::time::timeout(WAIT, async {
        let webhook = Webhook::from_secret(SECRET).unwrap();
        let (server, _events) =
            WebhookServer::builder(webhook).max_requests_per_connection(3).bind("127.0.0.1:0").await.unwrap();
        let requests = "GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(10);
        let answer = raw(server.local_addr(), requests.as_bytes()).await;
        assert_eq!(answer.matches("HTTP/1.1 405").count(), 3, "{answer}");
        assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");
        assert_eq!(server.metrics().requests, 3);
    })
    .await
    .unwrap();
}

/// A client that pipelines requests and never reads the answers fills the socket's
/// buffers: the server's writes stall, and the connection is closed after the write
/// timeout instead of being held forever.
#[tokio::test]
async fn a_client_that_never_reads_its_answers_is_cut_off_after_the_write_timeout() {
    tokio::time::timeout(WAIT, async {
        use tokio::io::AsyncWriteExt;
        let webhook = Webhook::from_secret(SECRET).unwrap();
        let (server, _events) = WebhookServer::builder(webhook)
            .write_timeout(Duration::from_millis(300))
            .max_requests_per_connection(u64::MAX)
            .bind("127.0.0.1:0")
            .await
            .unwrap();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(server.local_addr()).await.unwrap();
        let requests = "GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(256);
        let writer = tokio::spawn(async move {
            // Until the server closes the connection: the write then fails.
            while stream.write_all(requests.as_bytes()).await.is_ok() {}
        });
        wait_for("the write timeout", Duration::from_secs(20), || server.metrics().write_timeouts == 1).await;
        wait_for("the connection closed", Duration::from_secs(5), || server.metrics().connections_open == 0)
            .await;
        writer.abort();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_connection_is_closed_when_its_lifetime_is_over() {
    tokio::time::timeout(WAIT, async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let webhook = Webhook::from_secret(SECRET).unwrap();
        let (server, _events) = WebhookServer::builder(webhook)
            .connection_lifetime(Duration::from_millis(300))
            .bind("127.0.0.1:0")
            .await
            .unwrap();
        let mut stream = tokio::net::TcpStream::connect(server.local_addr()).await.unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let opened = std::time::Instant::now();
        let mut answer = Vec::new();
        // The answer, then the end of the connection — well before the 5 s idle timeout.
        let _ = stream.read_to_end(&mut answer).await;
        assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 405"));
        assert!(opened.elapsed() < Duration::from_secs(3), "closed after {:?}", opened.elapsed());
        assert_eq!(server.metrics().connections_recycled, 1);
        assert_eq!(server.metrics().header_timeouts, 0);
    })
    .await
    .unwrap();
}
