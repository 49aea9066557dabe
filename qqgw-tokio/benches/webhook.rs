//! The webhook endpoint's throughput and latency, over loopback.
//!
//! ```text
//! cargo bench -p qqgw-tokio --features webhook --bench webhook
//! ```
//!
//! The server runs on a current-thread tokio runtime in a thread of its own — one core —
//! and the clients on another runtime. It prints:
//!
//! 1. `Webhook::check` + replay check alone (no HTTP), one thread: signature
//!    verifications per second;
//! 2. signed events per second the endpoint verifies and delivers (to a consumer on the
//!    server's runtime), over 16 keep-alive connections, requests signed beforehand;
//! 3. the latency of a legitimate event (connect, POST, 200), one every 5 ms, p50/p99,
//!    with no other load;
//! 4. the same while the endpoint is abused: 400 slowloris connections, 8 keep-alive
//!    connections sending forged signatures as fast as they are answered, and 8 sending
//!    unsigned requests that declare 1 MB bodies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use qqgw_proto::webhook::{Checked, Webhook, WebhookKey, WebhookRequest};
use qqgw_tokio::webhook::WebhookServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SECRET: &str = "DG5g3B4j9X2KOErG";

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn body(id: &str) -> String {
    format!(
        r#"{{"op":0,"id":"{id}","t":"GROUP_AT_MESSAGE_CREATE","d":{{"id":"{id}","content":"hi","group_openid":"CFFD","author":{{"member_openid":"E76A"}},"timestamp":"2024-09-04T17:12:21+08:00"}}}}"#
    )
}

fn request(body: &str, signature: &str, timestamp: &str, close: bool) -> Vec<u8> {
    let connection = if close { "Connection: close\r\n" } else { "" };
    format!(
        "POST /qqbot/callback HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n{connection}X-Signature-Ed25519: {signature}\r\n\
         X-Signature-Timestamp: {timestamp}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn signed(key: &WebhookKey, id: &str, close: bool) -> Vec<u8> {
    let body = body(id);
    let ts = now().to_string();
    request(&body, &key.sign_callback(&ts, body.as_bytes()), &ts, close)
}

/// Reads one response; its status, or `None` when the connection ends first.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<u16> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let status = head.get(9..12)?.parse().ok()?;
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + length {
                let n = stream.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            buf.drain(..end + 4 + length);
            return Some(status);
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Starts a server on a current-thread runtime in its own thread, with a consumer that
/// counts events; returns its address, the count, and a handle that stops it when dropped.
fn server(webhook: Webhook) -> (SocketAddr, Arc<AtomicU64>, std::sync::mpsc::Sender<()>) {
    let delivered = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&delivered);
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let (server, mut events) =
                WebhookServer::builder(webhook).queue(65_536).bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(server.local_addr()).unwrap();
            tokio::spawn(async move {
                while events.next().await.is_some() {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            });
            tokio::task::spawn_blocking(move || stop_rx.recv().ok()).await.unwrap();
            drop(server);
        });
    });
    (addr_rx.recv().unwrap(), delivered, stop_tx)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn check_alone(key: &WebhookKey) {
    let webhook = Webhook::new(key.clone());
    let mut guard = webhook.replay_guard();
    let n = 20_000;
    let ts = now().to_string();
    let requests: Vec<(String, String)> = (0..n)
        .map(|i| {
            let body = body(&format!("E:{i}"));
            let signature = key.sign_callback(&ts, body.as_bytes());
            (body, signature)
        })
        .collect();
    let started = Instant::now();
    for (body, signature) in &requests {
        let request = WebhookRequest {
            signature: Some(signature),
            timestamp: Some(&ts),
            body: body.as_bytes(),
            unix_now: Some(now()),
        };
        let Checked::Event(event) = webhook.check(request) else { panic!() };
        assert_eq!(event.admit(&mut guard).status, 200);
    }
    let elapsed = started.elapsed();
    println!(
        "check + replay check, no HTTP, 1 thread: {:.0} events/s ({:.1} µs each)",
        n as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / n as f64
    );
}

async fn throughput(key: &WebhookKey) {
    let (addr, delivered, _stop) = server(Webhook::new(key.clone()));
    let connections = 16;
    let per_connection = 2_000;
    let batches: Vec<Vec<Vec<u8>>> = (0..connections)
        .map(|c| (0..per_connection).map(|i| signed(key, &format!("T:{c}:{i}"), false)).collect())
        .collect();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for batch in batches {
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.set_nodelay(true).unwrap();
            let mut buf = Vec::new();
            for request in batch {
                stream.write_all(&request).await.unwrap();
                assert_eq!(read_response(&mut stream, &mut buf).await, Some(200));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let total = (connections * per_connection) as u64;
    while delivered.load(Ordering::Relaxed) < total {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let elapsed = started.elapsed();
    println!(
        "signed events verified and delivered, server on 1 core, 16 keep-alive connections: {:.0} events/s ({} in {})",
        total as f64 / elapsed.as_secs_f64(),
        total,
        ms(elapsed)
    );
}

/// One legitimate event every 5 ms on a new connection, `n` of them; sorted latencies.
async fn legit_latencies(addr: SocketAddr, key: &WebhookKey, prefix: &str, n: usize) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(n);
    for i in 0..n {
        let request = signed(key, &format!("{prefix}:{i}"), true);
        let started = Instant::now();
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        stream.write_all(&request).await.unwrap();
        let mut buf = Vec::new();
        assert_eq!(read_response(&mut stream, &mut buf).await, Some(200), "{prefix}:{i}");
        latencies.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    latencies.sort_unstable();
    latencies
}

async fn latency(key: &WebhookKey, abuse: bool) {
    let (addr, _delivered, _stop) = server(Webhook::new(key.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let forged_count = Arc::new(AtomicU64::new(0));
    let mut attackers = Vec::new();
    if abuse {
        for _ in 0..400 {
            let stop = Arc::clone(&stop);
            attackers.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut stream) = TcpStream::connect(addr).await else { continue };
                    let _ = stream.write_all(b"POST / HTTP/1.1\r\nHost: bot\r\n").await;
                    let mut buf = [0u8; 64];
                    while !stop.load(Ordering::Relaxed) {
                        tokio::select! {
                            read = stream.read(&mut buf) => if matches!(read, Ok(0) | Err(_)) { break },
                            () = tokio::time::sleep(Duration::from_millis(500)) => {
                                if stream.write_all(b"X-Drip: a\r\n").await.is_err() { break }
                            }
                        }
                    }
                }
            }));
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        for c in 0..8u64 {
            let (stop, count) = (Arc::clone(&stop), Arc::clone(&forged_count));
            attackers.push(tokio::spawn(async move {
                let body = body("forged");
                // Well formed (128 hex digits, canonical) but wrong: verified, then refused.
                let mut signature = format!("{c:016x}").repeat(8);
                signature.replace_range(126.., "0f");
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut stream) = TcpStream::connect(addr).await else { continue };
                    let mut buf = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let request = request(&body, &signature, &now().to_string(), false);
                        if stream.write_all(&request).await.is_err()
                            || read_response(&mut stream, &mut buf).await.is_none()
                        {
                            break;
                        }
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        for _ in 0..8 {
            let (stop, count) = (Arc::clone(&stop), Arc::clone(&forged_count));
            attackers.push(tokio::spawn(async move {
                let head = b"POST / HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n";
                let filler = vec![b'x'; 16 << 10];
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut stream) = TcpStream::connect(addr).await else { continue };
                    let _ = stream.write_all(head).await;
                    let _ = stream.write_all(&filler).await;
                    let mut buf = Vec::new();
                    if read_response(&mut stream, &mut buf).await.is_some() {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let before = forged_count.load(Ordering::Relaxed);
    let started = Instant::now();
    let latencies = legit_latencies(addr, key, if abuse { "abused" } else { "quiet" }, 1_000).await;
    let attack_rate =
        (forged_count.load(Ordering::Relaxed) - before) as f64 / started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for attacker in attackers {
        attacker.abort();
    }
    let label = if abuse { "under abuse" } else { "no other load" };
    println!(
        "legitimate event latency, {label}: p50 {}, p99 {}, max {}{}",
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(percentile(&latencies, 1.0)),
        if abuse { format!(" (while refusing {attack_rate:.0} abusive requests/s)") } else { String::new() }
    );
}

fn main() {
    let key = WebhookKey::from_secret(SECRET).unwrap();
    check_alone(&key);
    let clients = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    clients.block_on(async {
        throughput(&key).await;
        latency(&key, false).await;
        latency(&key, true).await;
    });
}
