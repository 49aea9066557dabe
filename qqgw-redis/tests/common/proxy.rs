//! A TCP proxy between the processes of a test and a redis-server, that can be told to stop
//! forwarding silently: connections stay open, bytes are read and dropped, nothing is
//! answered — a half-open connection, as a dead NAT entry or a vanished peer looks. It can
//! also be pointed at another server (a failover) and close what it holds.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct Proxy {
    addr: SocketAddr,
    state: Arc<State>,
    accept: JoinHandle<()>,
}

struct State {
    cut: AtomicBool,
    /// Drops only what the server answers: requests still arrive.
    cut_answers: AtomicBool,
    upstream: Mutex<SocketAddr>,
    connections: Mutex<Vec<JoinHandle<()>>>,
}

impl Proxy {
    /// A proxy to `upstream` on a free loopback port, served by the current tokio runtime.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let state = Arc::new(State {
            cut: AtomicBool::new(false),
            cut_answers: AtomicBool::new(false),
            upstream: Mutex::new(upstream),
            connections: Mutex::new(Vec::new()),
        });
        let accepting = Arc::clone(&state);
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let state = Arc::clone(&accepting);
                let task = tokio::spawn(serve(client, state));
                accepting.connections.lock().unwrap().push(task);
            }
        });
        Self { addr, state, accept }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    /// While `true`, nothing is forwarded either way and nothing is closed.
    pub fn cut(&self, cut: bool) {
        self.state.cut.store(cut, Ordering::SeqCst);
    }

    /// While `true`, requests reach the server but its answers are dropped.
    pub fn cut_answers(&self, cut: bool) {
        self.state.cut_answers.store(cut, Ordering::SeqCst);
    }

    /// New connections go to `upstream`.
    pub fn point_at(&self, upstream: SocketAddr) {
        *self.state.upstream.lock().unwrap() = upstream;
    }

    /// Closes every connection it holds (their clients see them end).
    pub fn close_all(&self) {
        for task in self.state.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.close_all();
    }
}

async fn serve(client: TcpStream, state: Arc<State>) {
    let upstream = *state.upstream.lock().unwrap();
    let Ok(server) = TcpStream::connect(upstream).await else { return };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::select! {
        () = pump(client_read, server_write, &state, false) => {}
        () = pump(server_read, client_write, &state, true) => {}
    }
}

/// Copies `from` to `to`, dropping what arrives while the proxy is cut (or, for the
/// server's `answers`, while answers are cut); ends at either side's end or error.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    state: &State,
    answers: bool,
) {
    let mut buffer = vec![0; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if state.cut.load(Ordering::SeqCst) || (answers && state.cut_answers.load(Ordering::SeqCst)) {
            continue;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}
