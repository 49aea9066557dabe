//! The mock against a raw WebSocket client and a raw HTTP client: the protocol as the
//! reference describes it, and every scripting hook.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::future::Future;
use std::time::Duration;

use async_tungstenite::WebSocketStream;
use async_tungstenite::tokio::{ConnectStream, connect_async};
use async_tungstenite::tungstenite::Message;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use qqgw_mock::{Auth, MockConfig, MockGateway, PacingKind, Target, TokenOutcome};
use qqgw_proto::{Instant as ProtoInstant, Intents, SessionStartLimit, parse_token_response};
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(10);
const FRAME: Duration = Duration::from_secs(2);

/// Every test is bounded in time.
async fn bounded<F: Future<Output = ()>>(test: F) {
    tokio::time::timeout(LIMIT, test).await.expect("test timed out");
}

fn fast() -> MockConfig {
    MockConfig { heartbeat_interval: Duration::from_millis(150), ..MockConfig::default() }
}

// ---- HTTP ----------------------------------------------------------------------------

async fn http(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let mut request = hyper::Request::builder().method(method).uri(path).header("host", host);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response =
        sender.send_request(request.body(Full::new(Bytes::from(body.to_owned()))).unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

async fn token_request(mock: &MockGateway, secret: &str) -> (u16, Value) {
    let body = qqgw_proto::Credentials::new(mock.config().app_id.clone(), secret).token_request_body();
    http("POST", &mock.token_url(), &[("content-type", "application/json")], &body).await
}

async fn token(mock: &MockGateway) -> String {
    let (status, body) = token_request(mock, &mock.config().secret).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

fn expires_in(body: &Value) -> u64 {
    body["expires_in"].as_str().expect("expires_in is a string, as QQ's").parse().unwrap()
}

// ---- WebSocket -----------------------------------------------------------------------

struct Client(WebSocketStream<ConnectStream>);

impl Client {
    async fn connect(mock: &MockGateway) -> Self {
        let (ws, _) = connect_async(mock.gateway_url()).await.unwrap();
        Self(ws)
    }

    /// Connects and reads HELLO.
    async fn hello(mock: &MockGateway) -> Self {
        let mut client = Self::connect(mock).await;
        let hello = client.recv().await;
        let interval = u64::try_from(mock.config().heartbeat_interval.as_millis()).unwrap();
        assert_eq!(hello, json!({"op": 10, "d": {"heartbeat_interval": interval}}));
        client
    }

    /// Connects, IDENTIFYs as `[shard, total]` with every intent and reads READY.
    async fn ready(mock: &MockGateway, shard: u32, total: u32) -> (Self, String) {
        let mut client = Self::hello(mock).await;
        client.identify(&token(mock).await, [shard, total], Intents::all().bits()).await;
        let ready = client.recv().await;
        assert_eq!(
            (ready["op"].as_u64(), ready["s"].as_u64(), ready["t"].as_str()),
            (Some(0), Some(1), Some("READY"))
        );
        (client, ready["d"]["session_id"].as_str().unwrap().to_owned())
    }

    async fn identify(&mut self, token: &str, shard: [u32; 2], intents: u32) {
        let frame = json!({"op": 2, "d": {"token": format!("QQBot {token}"), "intents": intents, "shard": shard, "properties": {}}});
        self.send(frame).await;
    }

    async fn resume(&mut self, token: &str, session_id: &str, seq: u64) {
        self.send(
            json!({"op": 6, "d": {"token": format!("QQBot {token}"), "session_id": session_id, "seq": seq}}),
        )
        .await;
    }

    async fn send(&mut self, frame: Value) {
        self.0.send(Message::Text(frame.to_string().into())).await.unwrap();
    }

    /// The next message, pings aside.
    async fn message(&mut self) -> Option<Message> {
        loop {
            match tokio::time::timeout(FRAME, self.0.next()).await.expect("no frame in time") {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(message)) => return Some(message),
                Some(Err(_)) | None => return None,
            }
        }
    }

    async fn recv(&mut self) -> Value {
        match self.message().await {
            Some(Message::Text(text)) => serde_json::from_str(&text).unwrap(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// Reads until the close frame, answers it, and returns its code.
    async fn close_code(&mut self) -> Option<u16> {
        loop {
            match self.message().await {
                Some(Message::Close(frame)) => {
                    // Reading on sends tungstenite's answer to the close frame.
                    while let Ok(Some(Ok(_))) = tokio::time::timeout(FRAME, self.0.next()).await {}
                    return frame.map(|f| u16::from(f.code));
                }
                Some(Message::Text(text)) => panic!("expected a close frame, got {text}"),
                Some(_) => {}
                None => return None,
            }
        }
    }

    /// Asserts nothing arrives for `wait`.
    async fn silent(&mut self, wait: Duration) {
        if let Ok(message) = tokio::time::timeout(wait, self.0.next()).await {
            panic!("expected silence, got {message:?}");
        }
    }
}

// ---- token endpoint ------------------------------------------------------------------

#[tokio::test]
async fn token_endpoint_follows_qq() {
    bounded(async {
        let config = MockConfig { token_lifetime: Duration::from_millis(61_200), ..fast() };
        let mock = MockGateway::start(config).await.unwrap();

        let (status, first) = token_request(&mock, "mock-secret").await;
        assert_eq!(status, 200);
        assert_eq!(expires_in(&first), 61);
        let parsed = parse_token_response(first.to_string().as_bytes(), ProtoInstant::ZERO).unwrap();
        assert_eq!(parsed.value(), first["access_token"].as_str().unwrap());

        // More than 60 s left: the same token, with what is left.
        let (_, again) = token_request(&mock, "mock-secret").await;
        assert_eq!(again["access_token"], first["access_token"]);
        assert!((60..=61).contains(&expires_in(&again)));

        // Inside the last 60 s: a new token; the old one still works until it expires.
        tokio::time::sleep(Duration::from_millis(1_300)).await;
        let (_, renewed) = token_request(&mock, "mock-secret").await;
        assert_ne!(renewed["access_token"], first["access_token"]);
        assert_eq!(expires_in(&renewed), 61);
        let old = format!("QQBot {}", first["access_token"].as_str().unwrap());
        assert_eq!(
            http("GET", &format!("{}/gateway", mock.api_base()), &[("authorization", &old)], "").await.0,
            200
        );

        // Wrong secret, and no JSON content type.
        let (status, wrong) = token_request(&mock, "not-the-secret").await;
        assert_eq!((status, wrong), (200, json!({"code": 100016, "message": "invalid appid or secret"})));
        let body = mock.config().credentials().token_request_body();
        let (_, untyped) = http("POST", &mock.token_url(), &[], &body).await;
        assert_eq!(untyped, json!({"code": 100007, "message": "appid invalid"}));

        // Scripted failures.
        mock.fail_token_requests(1);
        assert_eq!(token_request(&mock, "mock-secret").await.0, 500);
        assert_eq!(token_request(&mock, "mock-secret").await.0, 200);
        mock.reject_credentials(true);
        assert_eq!(token_request(&mock, "mock-secret").await.1["code"], 100016);
        mock.reject_credentials(false);
        mock.expire_tokens();
        let (_, fresh) = token_request(&mock, "mock-secret").await;
        assert_ne!(fresh["access_token"], renewed["access_token"]);

        let record = mock.record();
        let outcomes: Vec<_> = record.token_requests.iter().map(|t| &t.outcome).collect();
        assert!(matches!(outcomes[0], TokenOutcome::Issued { expires_in: 61, fresh: true, .. }));
        assert!(matches!(outcomes[1], TokenOutcome::Issued { fresh: false, .. }));
        assert!(matches!(outcomes[3], TokenOutcome::Rejected { code: 100016 }));
        assert!(matches!(outcomes[4], TokenOutcome::Rejected { code: 100007 }));
        assert!(matches!(outcomes[5], TokenOutcome::Failed));
        assert_eq!(record.http_requests.len(), 10);
        assert!(record.http_requests.iter().all(|r| r.method == "POST" || r.path == "/gateway"));
    })
    .await;
}

#[tokio::test]
async fn token_rejections_can_use_another_status() {
    bounded(async {
        let mock = MockGateway::start(MockConfig { token_error_status: 401, ..fast() }).await.unwrap();
        let (status, body) = token_request(&mock, "wrong").await;
        assert_eq!((status, body["code"].as_u64()), (401, Some(100016)));
    })
    .await;
}

#[tokio::test]
async fn gateway_discovery_needs_a_token() {
    bounded(async {
        let limit =
            SessionStartLimit { total: 50, remaining: 40, reset_after: 3_600_000, max_concurrency: 2 };
        let mock =
            MockGateway::start(MockConfig { shards: 3, session_start_limit: limit, ..fast() }).await.unwrap();
        let bot = format!("{}/gateway/bot", mock.api_base());
        let (status, body) = http("GET", &bot, &[], "").await;
        assert_eq!((status, body["code"].as_u64()), (401, Some(11241)));
        assert_eq!(http("GET", &bot, &[("authorization", "QQBot nope")], "").await.0, 401);
        let auth = format!("QQBot {}", token(&mock).await);
        assert_eq!(
            http("GET", &bot, &[("authorization", &auth[6..])], "").await.0,
            401,
            "the prefix is required"
        );

        let (status, body) = http("GET", &bot, &[("authorization", &auth)], "").await;
        assert_eq!(status, 200);
        assert_eq!(body["url"], mock.gateway_url());
        assert_eq!(body["shards"], 3);
        let announced: SessionStartLimit =
            serde_json::from_value(body["session_start_limit"].clone()).unwrap();
        assert_eq!((announced.total, announced.remaining, announced.max_concurrency), (50, 40, 2));
        assert!(announced.reset_after <= 3_600_000 && announced.reset_after > 3_500_000);

        let (_, body) =
            http("GET", &format!("{}/gateway", mock.api_base()), &[("authorization", &auth)], "").await;
        assert_eq!(body, json!({"url": mock.gateway_url()}));
        assert!(
            mock.gateway_url().starts_with("ws://127.0.0.1:") && mock.gateway_url().ends_with("/websocket/")
        );
        assert_eq!(http("GET", &format!("{}/nope", mock.api_base()), &[], "").await.0, 404);
    })
    .await;
}

// ---- sessions ------------------------------------------------------------------------

#[tokio::test]
async fn hello_identify_ready_and_heartbeats() {
    bounded(async {
        let mock = MockGateway::start(fast()).await.unwrap();
        let mut client = Client::hello(&mock).await;
        // A heartbeat before IDENTIFY is fine (heartbeats start at HELLO).
        client.send(json!({"op": 1, "d": null})).await;
        assert_eq!(client.recv().await, json!({"op": 11}));
        let token = token(&mock).await;
        client.identify(&token, [0, 1], 1_174_410_243).await;
        let ready = client.recv().await;
        assert_eq!(ready["s"], 1);
        assert_eq!(ready["d"]["version"], 1);
        assert_eq!(ready["d"]["shard"], json!([0, 1]));
        assert_eq!(ready["d"]["user"]["bot"], true);
        let session_id = ready["d"]["session_id"].as_str().unwrap();
        assert_eq!(session_id.len(), 36);
        assert!(ready.get("id").is_none());

        client.send(json!({"op": 1, "d": 1})).await;
        assert_eq!(client.recv().await, json!({"op": 11}));
        let seq = mock.dispatch(0, "AT_MESSAGE_CREATE", json!({"content": "hi"}));
        assert_eq!(seq, 2);
        let event = client.recv().await;
        assert_eq!(
            (event["op"].as_u64(), event["s"].as_u64(), event["t"].as_str()),
            (Some(0), Some(2), Some("AT_MESSAGE_CREATE"))
        );
        assert!(event["id"].as_str().unwrap().starts_with("AT_MESSAGE_CREATE:"));
        assert_eq!(event["d"]["content"], "hi");

        let record = mock.wait_until(|r| r.heartbeats.len() == 2, FRAME).await.unwrap();
        let beats: Vec<_> = record.heartbeats.iter().map(|&(_, shard, d)| (shard, d)).collect();
        assert_eq!(
            beats,
            [(0, None), (0, Some(1))],
            "the early heartbeat is attributed once the shard is known"
        );
        assert!(mock.connected(0) && record.connected(0));
        assert_eq!(mock.session_id(0).as_deref(), Some(session_id));
        assert_eq!(
            record.identifies(),
            [&Auth::Identify { shard: [0, 1], intents: 1_174_410_243, token: format!("QQBot {token}") }]
        );
        assert!(record.protocol_errors.is_empty(), "{:?}", record.protocol_errors);

        drop(client);
        mock.wait_until(|r| r.connections[0].closed_at.is_some(), FRAME).await.unwrap();
        assert!(!mock.connected(0));
    })
    .await;
}

#[tokio::test]
async fn withheld_acks_make_a_zombie() {
    bounded(async {
        let mock = MockGateway::start(fast()).await.unwrap();
        let (mut client, _) = Client::ready(&mock, 0, 1).await;
        mock.withhold_acks(0, true);
        client.send(json!({"op": 1, "d": 1})).await;
        client.silent(Duration::from_millis(300)).await;
        mock.withhold_acks(Target::All, false);
        client.send(json!({"op": 1, "d": 1})).await;
        assert_eq!(client.recv().await, json!({"op": 11}));
        assert_eq!(mock.record().heartbeats_of(0).count(), 2);
    })
    .await;
}

#[tokio::test]
async fn resume_replays_exactly_the_missed_events() {
    bounded(async {
        let mock = MockGateway::start(fast()).await.unwrap();
        let (mut client, session_id) = Client::ready(&mock, 0, 1).await;
        mock.dispatch(0, "MESSAGE_CREATE", json!({"n": 2}));
        mock.dispatch(0, "MESSAGE_CREATE", json!({"n": 3}));
        assert_eq!(client.recv().await["s"], 2);
        assert_eq!(client.recv().await["s"], 3);

        // A rotation: the close code arrives, events sent meanwhile wait for the RESUME.
        mock.close(0, 4009);
        assert_eq!(client.close_code().await, Some(4009));
        mock.wait_until(|r| !r.connected(0), FRAME).await.unwrap();
        let fixture = r#"{"op":0,"s":47,"t":"GUILD_MEMBER_ADD","id":"GUILD_MEMBER_ADD:944a2349-3a7e-426c-9bec-533fc69894eb","d":{"guild_id":"5233096270906057162"}}"#;
        assert_eq!(mock.dispatch(0, "MESSAGE_CREATE", json!({"n": 4})), 4);
        assert_eq!(mock.dispatch_frame(0, fixture), 5);
        assert_eq!(mock.dispatch(0, "MESSAGE_CREATE", "six"), 6);

        let mut client = Client::hello(&mock).await;
        client.resume(&token(&mock).await, &session_id, 3).await;
        let replayed: Vec<Value> = vec![client.recv().await, client.recv().await, client.recv().await];
        let seqs: Vec<_> = replayed.iter().map(|f| f["s"].as_u64().unwrap()).collect();
        assert_eq!(seqs, [4, 5, 6]);
        assert_eq!(replayed[0]["d"], json!({"n": 4}));
        assert_eq!(replayed[1]["id"], "GUILD_MEMBER_ADD:944a2349-3a7e-426c-9bec-533fc69894eb");
        assert_eq!(replayed[2]["d"], "six");
        assert_eq!(client.recv().await, json!({"op": 0, "s": 7, "t": "RESUMED", "d": ""}));
        assert_eq!(mock.dispatch(0, "MESSAGE_CREATE", json!({})), 8);
        assert_eq!(client.recv().await["s"], 8);

        let record = mock.wait_until(|r| r.connected(0), FRAME).await.unwrap();
        assert_eq!(record.connections[0].close_code_sent_by_server, Some(4009));
        assert_eq!(record.connections[0].close_code_sent_by_client, Some(4009), "the client echoed the close");
        assert_eq!(record.resumes().len(), 1);
        assert_eq!(record.resumes()[0].seq(), Some(3));
        assert_eq!(record.readies(0), 1);

        // A seq beyond the last one is a seq error; an expired session is refused.
        let mut late = Client::hello(&mock).await;
        late.resume(&token(&mock).await, &session_id, 99).await;
        assert_eq!(late.close_code().await, Some(4007));
        mock.expire_session(0);
        let mut refused = Client::hello(&mock).await;
        refused.resume(&token(&mock).await, &session_id, 8).await;
        assert_eq!(refused.recv().await, json!({"op": 9, "d": false}));
        let mut unknown = Client::hello(&mock).await;
        unknown.resume(&token(&mock).await, "no-such-session", 0).await;
        assert_eq!(unknown.recv().await, json!({"op": 9, "d": false}));
    })
    .await;
}

#[tokio::test]
async fn a_refused_resume_ends_the_session_as_qq_does() {
    bounded(async {
        let mock = MockGateway::start(fast()).await.unwrap();
        let (client, session_id) = Client::ready(&mock, 0, 1).await;
        drop(client);
        mock.refuse_resumes(0, 1);
        let token = token(&mock).await;
        let mut first = Client::hello(&mock).await;
        first.resume(&token, &session_id, 1).await;
        assert_eq!(first.recv().await, json!({"op": 9, "d": false}));
        // Op 9 `false` means the session is gone: a second RESUME cannot bring it back.
        let mut second = Client::hello(&mock).await;
        second.resume(&token, &session_id, 1).await;
        assert_eq!(second.recv().await, json!({"op": 9, "d": false}));
        assert_eq!(mock.session_id(0), None);
    })
    .await;
}

#[tokio::test]
async fn authentication_failures_close_with_qq_codes() {
    bounded(async {
        let config = MockConfig { shards: 2, allowed_intents: (1 << 30) | 3, ..fast() };
        let mock = MockGateway::start(config).await.unwrap();
        let token = token(&mock).await;
        let cases: [(&str, [u32; 2], u32, u16); 6] = [
            ("not-a-token", [0, 2], 1, 4004),
            (&token, [0, 1], 1, 4010),
            (&token, [2, 2], 1, 4010),
            (&token, [0, 2], 0, 4013),
            (&token, [0, 2], 1 << 25, 4014),
            (&token, [1, 2], 2, 0),
        ];
        for (token, shard, intents, code) in cases {
            let mut client = Client::hello(&mock).await;
            client.identify(token, shard, intents).await;
            if code == 0 {
                assert_eq!(client.recv().await["t"], "READY");
            } else {
                assert_eq!(client.close_code().await, Some(code), "{shard:?} {intents}");
            }
        }
        // Expired tokens fail too, for RESUME as well.
        mock.expire_tokens();
        let mut client = Client::hello(&mock).await;
        client.resume(&token, &mock.session_id(1).unwrap(), 1).await;
        assert_eq!(client.close_code().await, Some(4004));

        let record = mock
            .wait_until(|r| r.connections.iter().all(|c| c.closed_at.is_some() || c.shard.is_some()), FRAME)
            .await
            .unwrap();
        let codes: Vec<_> = record.connections.iter().map(|c| c.close_code_sent_by_server).collect();
        assert_eq!(codes, [Some(4004), Some(4010), Some(4010), Some(4013), Some(4014), None, Some(4004)]);
        assert_eq!(record.identifies().len(), 6);
    })
    .await;
}

#[tokio::test]
async fn identify_pacing_and_limits() {
    bounded(async {
        let limit = SessionStartLimit { total: 10, remaining: 2, reset_after: 1000, max_concurrency: 1 };
        let mock =
            MockGateway::start(MockConfig { shards: 2, session_start_limit: limit, ..fast() }).await.unwrap();
        Client::ready(&mock, 0, 2).await;
        Client::ready(&mock, 1, 2).await; // too soon: recorded, still served
        let mut client = Client::hello(&mock).await;
        client.identify(&token(&mock).await, [0, 2], 1).await;
        assert_eq!(client.close_code().await, Some(4008), "remaining is spent");
        let record = mock.record();
        let kinds: Vec<_> = record.pacing_violations.iter().map(|v| (v.shard, v.kind)).collect();
        assert_eq!(
            kinds,
            [(1, PacingKind::Concurrency { in_window: 1, max_concurrency: 1 }), (0, PacingKind::Exhausted)]
        );
    })
    .await;
}

// ---- scripted server behaviour -------------------------------------------------------

#[tokio::test]
async fn scripted_frames_and_drops() {
    bounded(async {
        let mock = MockGateway::start(MockConfig { shards: 2, ..fast() }).await.unwrap();
        let (mut zero, _) = Client::ready(&mock, 0, 2).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        let (mut one, _) = Client::ready(&mock, 1, 2).await;

        assert_eq!(mock.reconnect(0), 1);
        assert_eq!(zero.recv().await, json!({"op": 7}));
        mock.invalid_session(1, true);
        assert_eq!(one.recv().await, json!({"op": 9, "d": true}));
        mock.send_raw(Target::All, "not json");
        assert!(matches!(zero.message().await, Some(Message::Text(t)) if t.as_str() == "not json"));
        assert!(matches!(one.message().await, Some(Message::Text(t)) if t.as_str() == "not json"));
        mock.send_binary(0, br#"{"op":11}"#);
        assert!(matches!(zero.message().await, Some(Message::Binary(b)) if &b[..] == br#"{"op":11}"#));

        // op 9 false forgets the session: no more events for it.
        mock.invalid_session(1, false);
        assert_eq!(one.recv().await, json!({"op": 9, "d": false}));
        assert_eq!(mock.dispatch(1, "MESSAGE_CREATE", json!({})), 0);
        assert_eq!(mock.session_id(1), None);

        // A TCP drop: no close frame, the stream just ends.
        assert_eq!(mock.drop_connection(0), 1);
        assert!(zero.message().await.is_none());
        let record = mock.wait_until(|r| r.connections[0].closed_at.is_some(), FRAME).await.unwrap();
        assert!(record.connections[0].dropped_by_server);
        assert_eq!(record.connections[0].close_code_sent_by_server, None);

        // Any close code reaches the client.
        mock.close(1, 4914);
        assert_eq!(one.close_code().await, Some(4914));
    })
    .await;
}

#[tokio::test]
async fn client_mistakes_are_recorded_not_fatal() {
    bounded(async {
        let mock = MockGateway::start(fast()).await.unwrap();
        let mut client = Client::hello(&mock).await;
        client.send(json!({"op": 11})).await;
        client.0.send(Message::Text("{oops".into())).await.unwrap();
        client.0.send(Message::Binary(b"\xff".to_vec().into())).await.unwrap();
        client.identify(&token(&mock).await, [0, 1], 1).await;
        assert_eq!(client.recv().await["t"], "READY");
        client.identify(&token(&mock).await, [0, 1], 1).await;
        client.send(json!({"op": 1, "d": "seven"})).await;
        assert_eq!(client.recv().await, json!({"op": 11}));
        let record = mock.wait_until(|r| r.protocol_errors.len() == 5, FRAME).await.unwrap();
        let reasons: Vec<_> = record.protocol_errors.iter().map(|e| e.reason.as_str()).collect();
        assert!(reasons[0].contains("before IDENTIFY"), "{reasons:?}");
        assert!(reasons[1].starts_with("not JSON"), "{reasons:?}");
        assert!(reasons[2].contains("binary"), "{reasons:?}");
        assert!(reasons[3].contains("already sent IDENTIFY"), "{reasons:?}");
        assert!(reasons[4].contains("heartbeat"), "{reasons:?}");
        assert_eq!(record.protocol_errors[3].shard, Some(0));
        assert!(mock.connected(0));
    })
    .await;
}

#[tokio::test]
async fn hello_waits_for_the_configured_delay() {
    bounded(async {
        let mock = MockGateway::start(MockConfig { hello_delay: Duration::from_millis(200), ..fast() })
            .await
            .unwrap();
        let mut client = Client::connect(&mock).await;
        let started = std::time::Instant::now();
        assert_eq!(client.recv().await["op"], 10);
        assert!(started.elapsed() >= Duration::from_millis(150));
    })
    .await;
}

#[tokio::test]
async fn a_burst_arrives_in_order() {
    bounded(async {
        let mock = MockGateway::start(fast()).await.unwrap();
        let (mut client, _) = Client::ready(&mock, 0, 1).await;
        assert_eq!(mock.burst(0, 1000, "C2C_MESSAGE_CREATE"), 1001);
        for i in 0..1000u64 {
            let event = client.recv().await;
            assert_eq!((event["s"].as_u64(), event["d"]["n"].as_u64()), (Some(i + 2), Some(i)));
        }
        assert_eq!(mock.last_seq(0), Some(1001));
    })
    .await;
}

#[test]
fn a_mock_on_its_own_thread_serves_other_runtimes() {
    let mock = MockGateway::start_in_thread(fast()).unwrap();
    // The client and the waiting run on a runtime the mock knows nothing about.
    let client_runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    client_runtime.block_on(bounded(async {
        let (_client, _) = Client::ready(&mock, 0, 1).await;
        mock.wait_until(|r| r.connected(0), FRAME).await.unwrap();
        let timeout = mock.wait_until(|r| r.connections.len() > 5, Duration::from_millis(50)).await;
        assert_eq!(timeout.unwrap_err().0.connections.len(), 1);
    }));
    // Plain blocking code can wait too.
    let record = mock.wait_until_blocking(|r| r.connections[0].closed_at.is_some(), FRAME).unwrap();
    assert_eq!(record.readies(0), 1);
    drop(mock);
}

#[tokio::test]
async fn shutdown_closes_everything() {
    bounded(async {
        let mock = MockGateway::start(fast()).await.unwrap();
        let (mut client, _) = Client::ready(&mock, 0, 1).await;
        let url = mock.gateway_url();
        mock.shutdown();
        assert!(client.message().await.is_none());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(connect_async(url).await.is_err());
    })
    .await;
}

/// A 20,000-event burst arrives whole and in order, and a heartbeat sent meanwhile is
/// answered (after whatever the socket buffers already hold, as with QQ).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_are_answered_during_a_large_burst() {
    bounded(async {
        let mock = MockGateway::start(fast()).await.unwrap();
        let (mut client, _) = Client::ready(&mock, 0, 1).await;
        assert_eq!(mock.burst(0, 20_000, "C2C_MESSAGE_CREATE"), 20_001);
        client.send(json!({"op": 1, "d": 1})).await;
        let (mut next, mut ack_after) = (2, None);
        while next <= 20_001 {
            let frame = client.recv().await;
            if frame["op"] == 11 {
                ack_after = Some(next - 2);
            } else {
                assert_eq!(frame["s"].as_u64(), Some(next));
                next += 1;
            }
        }
        if ack_after.is_none() {
            assert_eq!(client.recv().await, json!({"op": 11}));
        }
        assert_eq!(mock.record().heartbeats.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn only_events_the_intents_cover_are_sent() {
    bounded(async {
        let mock = MockGateway::start(fast()).await.unwrap();
        let mut client = Client::hello(&mock).await;
        client.identify(&token(&mock).await, [0, 1], Intents::PUBLIC_GUILD_MESSAGES.bits()).await;
        assert_eq!(client.recv().await["t"], "READY");
        assert_eq!(mock.dispatch(0, "GROUP_AT_MESSAGE_CREATE", json!({"content": "group"})), 0);
        assert_eq!(mock.dispatch(0, "C2C_MESSAGE_CREATE", json!({"content": "c2c"})), 0);
        assert_eq!(mock.dispatch(0, "AT_MESSAGE_CREATE", json!({"content": "guild"})), 2);
        assert_eq!(mock.dispatch(0, "SOMETHING_NEW", json!({})), 3);
        let first = client.recv().await;
        assert_eq!((first["s"].as_u64(), first["t"].as_str()), (Some(2), Some("AT_MESSAGE_CREATE")));
        assert_eq!(client.recv().await["t"], "SOMETHING_NEW");
        let filtered = mock.record().filtered;
        assert_eq!(
            filtered,
            [(0, "GROUP_AT_MESSAGE_CREATE".to_owned()), (0, "C2C_MESSAGE_CREATE".to_owned())]
        );

        // A session that asked for GROUP_AND_C2C_EVENT hears group messages.
        let mut group = Client::hello(&mock).await;
        group.identify(&token(&mock).await, [0, 1], Intents::GROUP_AND_C2C_EVENT.bits()).await;
        assert_eq!(group.recv().await["t"], "READY");
        assert_eq!(mock.dispatch(0, "GROUP_AT_MESSAGE_CREATE", json!({"content": "group"})), 2);
        assert_eq!(group.recv().await["t"], "GROUP_AT_MESSAGE_CREATE");
    })
    .await;
}
