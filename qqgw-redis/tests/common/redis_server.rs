//! A `redis-server` of the test's own: a free loopback port, a temporary folder, killed
//! on drop. Missing `redis-server` is a failure with the way to install it, never a skip.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a started server may take to answer PING.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// Whether and how a server persists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// Nothing is kept across a restart.
    None,
    /// The append-only file, `appendfsync always`.
    AofAlways,
    /// The append-only file, `appendfsync everysec`: a crash may lose the last second.
    AofEverySec,
}

pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    persistence: Persistence,
    extra: Vec<String>,
}

pub fn free_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// Sends `signal` (`STOP`, `CONT`, `KILL`) to process `pid`.
pub fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status();
    assert!(status.is_ok_and(|s| s.success()), "kill -{signal} {pid}");
}

impl RedisServer {
    /// A server without persistence.
    pub fn start() -> Self {
        Self::start_with(Persistence::None, &[])
    }

    /// A server with the append-only file on (`appendfsync always`), in its own folder.
    pub fn start_with_aof() -> Self {
        Self::start_with(Persistence::AofAlways, &[])
    }

    /// A server persisting as told, with extra `redis-server` arguments (`["--maxmemory-policy",
    /// "allkeys-lru"]`).
    pub fn start_with(persistence: Persistence, extra: &[&str]) -> Self {
        let extra = extra.iter().map(|&a| a.to_owned()).collect();
        Self::launch(persistence, free_port(), None, extra)
    }

    /// A replica of the primary at `primary` (a server, or a proxy to one), without
    /// persistence, once it has synchronised.
    pub fn replica_of(primary: std::net::SocketAddr) -> Self {
        let extra = vec!["--replicaof".into(), primary.ip().to_string(), primary.port().to_string()];
        let replica = Self::launch(Persistence::None, free_port(), None, extra);
        let deadline = Instant::now() + READY_WITHIN;
        while !replica.info("replication").contains("master_link_status:up") {
            assert!(Instant::now() < deadline, "the replica did not synchronise within {READY_WITHIN:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
        replica
    }

    fn launch(persistence: Persistence, port: u16, dir: Option<PathBuf>, extra: Vec<String>) -> Self {
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
        match persistence {
            Persistence::None => command.arg("--appendonly").arg("no"),
            Persistence::AofAlways => {
                command.arg("--appendonly").arg("yes").arg("--appendfsync").arg("always")
            }
            Persistence::AofEverySec => {
                command.arg("--appendonly").arg("yes").arg("--appendfsync").arg("everysec")
            }
        };
        command.args(&extra);
        let child = match command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn() {
            Ok(child) => child,
            Err(e) => panic!(
                "cannot start redis-server ({e}): these tests need it on PATH; install it with \
                 `apt-get update && apt-get install -y redis-server` (.ci/run does)"
            ),
        };
        let mut server = Self { child: Some(child), port, dir, persistence, extra };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Ok(client) = redis::Client::open(self.url()) {
                if let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_millis(200)) {
                    // LOADING while the append-only file is read.
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

    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server runs").id()
    }

    /// A synchronous connection, for the test's own commands.
    pub fn sync(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .expect("url")
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("connect to the test's redis-server")
    }

    /// `INFO <section>`.
    pub fn info(&self, section: &str) -> String {
        redis::cmd("INFO").arg(section).query(&mut self.sync()).expect("INFO")
    }

    /// Kills the server (SIGKILL) and starts it again on the same port and folder: with
    /// AOF, what it had written to the file is back.
    pub fn restart(&mut self) {
        self.kill();
        self.start_again();
    }

    /// Kills the server (SIGKILL), leaving its folder.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a killed server again, on its port and folder.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "the server still runs");
        let fresh = Self::launch(self.persistence, self.port, Some(self.dir.clone()), self.extra.clone());
        let mut fresh = std::mem::ManuallyDrop::new(fresh);
        self.child = fresh.child.take();
    }

    /// The append-only file that writes go to now (Redis 7's multi-part AOF: the last
    /// `incr` file of `appendonlydir`), if any.
    pub fn aof_tail(&self) -> Option<PathBuf> {
        let dir = self.dir.join("appendonlydir");
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().contains(".incr.aof"))
            .collect();
        files.sort();
        files.pop()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
