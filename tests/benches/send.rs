//! Sending benchmark: messages per second and latency against the loopback mock, for the
//! HTTP client qqgw uses (blocking `ureq` on the runtime's blocking pool, through
//! `Api::send`) and an async client it does not use (hyper's HTTP/1 client on tokio's IO,
//! one connection per concurrent sender).
//!
//! Run pinned to one core, so that the client, its blocking threads and the mock share
//! it: `taskset -c 0 cargo bench -p qqgw-mock --bench send`. Prints two tables; see
//! BENCHMARKS.md. `QQGW_SEND_N` sets the sends per row (default 4000). The second table
//! times `Api` calls of three kinds one after the other: a GET (`api.me()`), a reply to a
//! guild channel message, and a chunk of a streamed C2C message.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation
)]

use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use qqgw_client::api::{Outgoing, ReplyTo, Target};
use qqgw_client::{Api, Config};
use qqgw_mock::{MockConfig, MockGateway};

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

struct Row {
    client: &'static str,
    concurrency: usize,
    n: usize,
    elapsed: Duration,
    latencies: Vec<u64>,
}

impl Row {
    fn print(mut self) {
        self.latencies.sort_unstable();
        let us = |ns: u64| ns as f64 / 1000.0;
        println!(
            "| {} | {} | {} | **{:.0}** | {:.1} µs | {:.1} µs | {:.1} µs |",
            self.client,
            self.concurrency,
            self.n,
            self.n as f64 / self.elapsed.as_secs_f64(),
            us(percentile(&self.latencies, 0.5)),
            us(percentile(&self.latencies, 0.99)),
            us(*self.latencies.last().unwrap_or(&0)),
        );
    }
}

fn config(mock: &MockGateway) -> Config {
    Config::builder(mock.config().app_id.clone(), mock.config().secret.clone())
        .api_base(mock.api_base())
        .token_url(mock.token_url())
        .allow_insecure(true)
        .build()
}

/// `n` sends by `concurrency` tasks, each sending one after the other.
async fn ureq_api(api: &Api, n: usize, concurrency: usize) -> Row {
    let target = Target::Channel("bench-channel".into());
    // Warm up: the token and the connections.
    for _ in 0..concurrency.max(4) {
        api.send(&target, Outgoing::text("warm-up").reply_to(ReplyTo::Message("bench-msg".into())))
            .await
            .unwrap();
    }
    let start = Instant::now();
    let per_task = n / concurrency;
    let tasks = (0..concurrency).map(|_| {
        let api = api.clone();
        let target = target.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_task);
            for i in 0..per_task {
                let t = Instant::now();
                let reply =
                    Outgoing::text(format!("reply {i}")).reply_to(ReplyTo::Message("bench-msg".into()));
                api.send(&target, reply).await.unwrap();
                latencies.push(t.elapsed().as_nanos() as u64);
            }
            latencies
        })
    });
    row("ureq on the blocking pool (Api::send)", concurrency, start, tasks).await
}

/// Waits for the tasks of one client and gathers their latencies into its row.
async fn row(
    client: &'static str,
    concurrency: usize,
    start: Instant,
    tasks: impl Iterator<Item = tokio::task::JoinHandle<Vec<u64>>>,
) -> Row {
    let mut latencies = Vec::new();
    for task in futures_util::future::join_all(tasks).await {
        latencies.extend(task.unwrap());
    }
    Row { client, concurrency, n: latencies.len(), elapsed: start.elapsed(), latencies }
}

/// The same requests with hyper's HTTP/1 client on tokio, one connection per task.
async fn hyper_raw(mock: &MockGateway, token: String, n: usize, concurrency: usize) -> Row {
    let addr = mock.api_base().trim_start_matches("http://").trim_end_matches('/').to_owned();
    let per_task = n / concurrency;
    let mut senders = Vec::new();
    for _ in 0..concurrency {
        let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(conn);
        senders.push(sender);
    }
    let start = Instant::now();
    let tasks = senders.into_iter().map(|mut sender| {
        let authorization = format!("QQBot {token}");
        let addr = addr.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_task);
            for i in 0..per_task {
                let t = Instant::now();
                let body =
                    serde_json::json!({"content": format!("reply {i}"), "msg_id": "bench-msg"}).to_string();
                let request = hyper::Request::post(format!("http://{addr}/channels/bench-channel/messages"))
                    .header("Host", &addr)
                    .header("Authorization", &authorization)
                    .header("Content-Type", "application/json")
                    .body(Full::new(Bytes::from(body)))
                    .unwrap();
                let response = sender.send_request(request).await.unwrap();
                assert_eq!(response.status(), 200);
                let bytes = response.into_body().collect().await.unwrap().to_bytes();
                let _: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                latencies.push(t.elapsed().as_nanos() as u64);
            }
            latencies
        })
    });
    row("hyper on tokio IO (raw requests)", concurrency, start, tasks).await
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("QQGW_SEND_N").ok().and_then(|v| v.parse().ok()).unwrap_or(4000);
    let mock = MockGateway::start_in_thread(MockConfig::default()).unwrap();
    // A guild channel message and a C2C message to reply to, as the gateway would report them.
    mock.openapi(|qq| {
        let now = qqgw_proto::Instant::ZERO;
        qq.dispatched(
            "AT_MESSAGE_CREATE",
            "AT:1",
            r#"{"id":"bench-msg","channel_id":"bench-channel","guild_id":"bench-guild"}"#,
            now,
        );
        qq.dispatched(
            "C2C_MESSAGE_CREATE",
            "C2C:1",
            r#"{"id":"bench-c2c","author":{"user_openid":"bench-user"}}"#,
            now,
        );
    });
    // One async thread; ureq's calls run on tokio's blocking pool.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    println!("| client | concurrent senders | sends | sends/s | latency p50 | p99 | max |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    runtime.block_on(async {
        let api = Api::new(qqgw_tokio::Tokio, &config(&mock)).unwrap();
        for concurrency in [1, 16] {
            ureq_api(&api, n, concurrency).await.print();
        }
        // A token for the raw client (the mock hands out the same one until its last 60 s).
        let token = mock_token(&mock);
        for concurrency in [1, 16] {
            hyper_raw(&mock, token.clone(), n, concurrency).await.print();
        }
        println!();
        println!("| `Api` call (one caller) | calls | calls/s | latency p50 | p99 |");
        println!("|---|---:|---:|---:|---:|");
        api_calls(&api, n).await;
    });
}

/// `n` calls of each kind, one after the other: a GET, a reply, a streamed chunk.
async fn api_calls(api: &Api, n: usize) {
    async fn timed<F: std::future::Future<Output = ()>>(
        n: usize,
        mut call: impl FnMut(usize) -> F,
    ) -> (f64, Vec<u64>) {
        let start = Instant::now();
        let mut latencies = Vec::with_capacity(n);
        for i in 0..n {
            let t = Instant::now();
            call(i).await;
            latencies.push(t.elapsed().as_nanos() as u64);
        }
        (n as f64 / start.elapsed().as_secs_f64(), latencies)
    }
    let print = |name: &str, (rate, mut latencies): (f64, Vec<u64>)| {
        latencies.sort_unstable();
        let us = |ns: u64| ns as f64 / 1000.0;
        println!(
            "| {name} | {} | **{rate:.0}** | {:.1} µs | {:.1} µs |",
            latencies.len(),
            us(percentile(&latencies, 0.5)),
            us(percentile(&latencies, 0.99))
        );
    };
    print("GET `api.me()`", timed(n, |_| async { drop(api.me().await.unwrap()) }).await);
    let channel = api.channel("bench-channel");
    let reply =
        |i: usize| Outgoing::text(format!("reply {i}")).reply_to(ReplyTo::Message("bench-msg".into()));
    print(
        "a reply, `channel.send(…)`",
        timed(n, |i| {
            let channel = channel.clone();
            async move { drop(channel.send(reply(i)).await.unwrap()) }
        })
        .await,
    );
    // A stream of 1,000 chunks at most: its text grows with every chunk (about 5.5 kB at
    // the end), as a long answer's does.
    let chunks = n.min(1000);
    let mut stream = api.user("bench-user").stream("bench-c2c").interval(Duration::ZERO);
    let start = Instant::now();
    let mut latencies = Vec::with_capacity(chunks);
    for i in 0..chunks {
        let t = Instant::now();
        stream.push(if i % 2 == 0 { "chunk " } else { "more " }).await.unwrap();
        latencies.push(t.elapsed().as_nanos() as u64);
    }
    print(
        "a streamed chunk, `stream.push(…)` (replace mode: the whole text so far)",
        (chunks as f64 / start.elapsed().as_secs_f64(), latencies),
    );
    stream.finish().await.unwrap();
}

/// A token from the mock's token endpoint, fetched with ureq.
fn mock_token(mock: &MockGateway) -> String {
    let body = mock.config().credentials().token_request_body();
    let mut response =
        ureq::post(&mock.token_url()).header("Content-Type", "application/json").send(body).unwrap();
    let value: serde_json::Value =
        serde_json::from_slice(&response.body_mut().read_to_vec().unwrap()).unwrap();
    value["access_token"].as_str().unwrap().to_owned()
}
