//! A `redis-server` of the test's own: a free loopback port, a temporary folder, killed
//! on drop. Missing `redis-server` is a failure with the way to install it, never a skip.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a started server may take to answer PING.
const READY_WITHIN: Duration = Duration::from_secs(10);

pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    aof: bool,
}

fn free_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

impl RedisServer {
    /// A server without persistence.
    pub fn start() -> Self {
        Self::launch(false, free_port(), None)
    }

    /// A server with the append-only file on (`appendfsync always`), in its own folder.
    pub fn start_with_aof() -> Self {
        Self::launch(true, free_port(), None)
    }

    fn launch(aof: bool, port: u16, dir: Option<PathBuf>) -> Self {
        let dir = dir.unwrap_or_else(|| {
            static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("qqgw-redis-test-{}-{n}-{port}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("a temporary folder for redis-server");
            dir
        });
        let mut command = Command::new("redis-server");
        command
            .arg("--port")
            .arg(port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--dir")
            .arg(&dir)
            .arg("--save")
            .arg("")
            .arg("--daemonize")
            .arg("no")
            .arg("--loglevel")
            .arg("warning");
        if aof {
            command.arg("--appendonly").arg("yes").arg("--appendfsync").arg("always");
        } else {
            command.arg("--appendonly").arg("no");
        }
        let child = match command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn() {
            Ok(child) => child,
            Err(e) => panic!(
                "cannot start redis-server ({e}): these tests need it on PATH; install it with \
                 `apt-get update && apt-get install -y redis-server` (.ci/run does)"
            ),
        };
        let mut server = Self { child: Some(child), port, dir, aof };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Ok(client) = redis::Client::open(self.url()) {
                if let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_millis(200)) {
                    if redis::cmd("PING").query::<String>(&mut conn).is_ok() {
                        return;
                    }
                }
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("redis-server exited at start ({status}) on port {}", self.port);
            }
            assert!(Instant::now() < deadline, "redis-server did not answer PING within {READY_WITHIN:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server (SIGKILL) and starts it again on the same port and folder: with
    /// AOF, everything acknowledged before the kill is back.
    pub fn restart(&mut self) {
        self.kill();
        let fresh = Self::launch(self.aof, self.port, Some(self.dir.clone()));
        let mut fresh = std::mem::ManuallyDrop::new(fresh);
        self.child = fresh.child.take();
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
