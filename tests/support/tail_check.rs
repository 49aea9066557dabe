//! Checks of a `tail` program as a user runs it: a real process against the mock
//! gateway. Each adapter's `tests/tail.rs` includes this file and runs the checks against
//! its own `tail` example:
//!
//! ```ignore
//! #[macro_use]
//! #[path = "../../tests/support/tail_check.rs"]
//! mod tail_check;
//! tail_tests!("tail");
//! ```
//!
//! These are test assertions: they panic when the program misbehaves.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use qqgw_mock::{MockConfig, MockGateway};

const WAIT: Duration = Duration::from_secs(15);

/// The `#[test]`s of every check here, run against the example `name` of the package
/// under test.
macro_rules! tail_tests {
    ($name:literal) => {
        #[test]
        fn prints_every_dispatch_as_a_json_line_and_exits_0_on_sigterm() {
            let tail = crate::tail_check::example($name);
            crate::tail_check::prints_every_dispatch_as_a_json_line_and_exits_0_on_sigterm(&tail);
        }

        #[test]
        fn fatal_close_codes_exit_1_with_a_one_line_reason() {
            crate::tail_check::fatal_close_codes_exit_1_with_a_one_line_reason(&crate::tail_check::example(
                $name,
            ));
        }

        #[test]
        fn a_session_file_carries_every_event_across_kill_9_and_sigterm() {
            crate::tail_check::a_session_file_carries_every_event_across_kill_9_and_sigterm(
                &crate::tail_check::example($name),
            );
        }

        #[test]
        fn bad_credentials_exit_1_with_a_one_line_reason() {
            crate::tail_check::bad_credentials_exit_1_with_a_one_line_reason(&crate::tail_check::example(
                $name,
            ));
        }
    };
}

/// The example `name` of the package under test: `cargo test` builds a package's
/// examples next to its test binaries.
#[must_use]
pub(crate) fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    dir.join("examples").join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

fn spawn_tail(tail: &Path, mock: &MockGateway, secret: &str) -> Child {
    spawn_tail_with(tail, mock, secret, None)
}

fn spawn_tail_with(tail: &Path, mock: &MockGateway, secret: &str, session_file: Option<&Path>) -> Child {
    let mut command = Command::new(tail);
    if let Some(file) = session_file {
        command.env("QQ_BOT_SESSION_FILE", file);
    }
    command
        .env("QQ_BOT_APP_ID", &mock.config().app_id)
        .env("QQ_BOT_SECRET", secret)
        .env("QQ_BOT_API_BASE", mock.api_base())
        .env("QQ_BOT_TOKEN_URL", mock.token_url())
        // Group messages need GROUP_AND_C2C_EVENT; the mock, like QQ, sends nothing else.
        .env("QQ_BOT_INTENTS", "GUILDS|GUILD_MEMBERS|PUBLIC_GUILD_MESSAGES|GROUP_AND_C2C_EVENT")
        .env("QQ_BOT_ALLOW_INSECURE", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tail example is built by cargo test")
}

/// Lines of the child's stdout, as they come.
fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn wait_exit(child: &mut Child) -> (i32, String) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
            return (status.code().unwrap_or(-1), stderr);
        }
        assert!(std::time::Instant::now() < deadline, "tail did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))
}

/// The program prints every dispatch (READY, RESUMED included) as a JSON line with
/// `shard`, `seq`, `type`, `id` and `d`, and a SIGTERM closes gracefully with exit 0.
pub(crate) fn prints_every_dispatch_as_a_json_line_and_exits_0_on_sigterm(tail: &Path) {
    let mock = MockGateway::start_in_thread(MockConfig {
        heartbeat_interval: Duration::from_millis(200),
        ..MockConfig::default()
    })
    .unwrap();
    let mut child = spawn_tail(tail, &mock, &mock.config().secret.clone());
    let lines = lines(&mut child);

    let ready = json(&lines.recv_timeout(WAIT).unwrap());
    assert_eq!(ready["type"], "READY");
    assert_eq!(ready["shard"], serde_json::json!([0, 1]));
    assert_eq!(ready["seq"], 1);
    assert!(ready["id"].is_null());
    assert!(ready["d"]["session_id"].is_string());

    mock.dispatch(0, "GROUP_AT_MESSAGE_CREATE", serde_json::json!({"content": " /签到", "n": [1, 2]}));
    let event = json(&lines.recv_timeout(WAIT).unwrap());
    assert_eq!(event["type"], "GROUP_AT_MESSAGE_CREATE");
    assert_eq!(event["seq"], 2);
    assert!(event["id"].as_str().unwrap().starts_with("GROUP_AT_MESSAGE_CREATE:"));
    assert_eq!(event["d"], serde_json::json!({"content": " /签到", "n": [1, 2]}));

    mock.close(0, 4009);
    let resumed = json(&lines.recv_timeout(WAIT).unwrap());
    assert_eq!(resumed["type"], "RESUMED");
    assert_eq!(resumed["d"], "");

    let killed = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(killed.success());
    let (code, stderr) = wait_exit(&mut child);
    assert_eq!(code, 0, "{stderr}");
    let record = mock.wait_until_blocking(|r| !r.connected(0), WAIT).unwrap();
    assert_eq!(record.connections.last().unwrap().close_code_sent_by_client, Some(4000), "closed gracefully");
}

/// A fatal close code ends the program with exit 1 and one line on stderr.
pub(crate) fn fatal_close_codes_exit_1_with_a_one_line_reason(tail: &Path) {
    let mock = MockGateway::start_in_thread(MockConfig::default()).unwrap();
    let mut child = spawn_tail(tail, &mock, &mock.config().secret.clone());
    let lines = lines(&mut child);
    assert_eq!(json(&lines.recv_timeout(WAIT).unwrap())["type"], "READY");
    mock.close(0, 4915);
    let (code, stderr) = wait_exit(&mut child);
    assert_eq!(code, 1);
    assert!(stderr.contains("stopped for good"), "the shard's log line: {stderr}");
    assert!(!stderr.contains('\x1b'), "colour codes written to a pipe: {stderr:?}");
    let reason: Vec<&str> = stderr.lines().filter(|l| l.starts_with("tail: ")).collect();
    assert_eq!(reason.len(), 1, "{stderr}");
    assert!(reason[0].contains("4915") && reason[0].contains("banned"), "{}", reason[0]);
    assert_eq!(mock.record().connections.len(), 1, "no retry after a fatal code");
}

/// Rejected credentials end the program with exit 1 and one line on stderr.
pub(crate) fn bad_credentials_exit_1_with_a_one_line_reason(tail: &Path) {
    let mock = MockGateway::start_in_thread(MockConfig::default()).unwrap();
    let mut child = spawn_tail(tail, &mock, "wrong-secret");
    let (code, stderr) = wait_exit(&mut child);
    assert_eq!(code, 1);
    let reason: Vec<&str> = stderr.lines().filter(|l| l.starts_with("tail: ")).collect();
    assert_eq!(reason.len(), 1, "{stderr}");
    assert!(reason[0].contains("100016"), "{}", reason[0]);
    assert_eq!(mock.record().token_requests.len(), 1);
}

/// The `n` of every GROUP_AT_MESSAGE_CREATE line printed so far, and how many READYs
/// (each a new session). Of a program that has ended, every line it printed.
fn printed_events(lines: &mpsc::Receiver<String>, into: &mut Vec<u64>, ended: bool) -> usize {
    let mut readies = 0;
    let mut all = Vec::new();
    if ended {
        // The reader thread stops at the end of the pipe.
        while let Ok(line) = lines.recv_timeout(WAIT) {
            all.push(line);
        }
    } else {
        all.extend(lines.try_iter());
    }
    for line in all {
        let value = json(&line);
        match value["type"].as_str() {
            Some("GROUP_AT_MESSAGE_CREATE") => into.push(value["d"]["n"].as_u64().unwrap()),
            Some("READY") => readies += 1,
            _ => {}
        }
    }
    readies
}

/// With `QQ_BOT_SESSION_FILE`, the program killed with SIGKILL at 20 points of a stream
/// and started again each time prints every event at least once (what it had printed but
/// not yet checkpointed comes again), and a SIGTERM then a restart prints every event
/// exactly once.
pub(crate) fn a_session_file_carries_every_event_across_kill_9_and_sigterm(tail: &Path) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    let mock = Arc::new(
        MockGateway::start_in_thread(MockConfig {
            heartbeat_interval: Duration::from_millis(500),
            ..MockConfig::default()
        })
        .unwrap(),
    );
    let dir = std::env::temp_dir().join(format!(
        "qqgw-tail-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sessions.json");
    let secret = mock.config().secret.clone();

    // The first run: its session is saved before anything else happens.
    let mut child = spawn_tail_with(tail, &mock, &secret, Some(&file));
    let mut out = lines(&mut child);
    let deadline = std::time::Instant::now() + WAIT;
    while !std::fs::read_to_string(&file).is_ok_and(|t| t.contains("session_id") || t.contains("\"id\"")) {
        assert!(std::time::Instant::now() < deadline, "no session saved");
        std::thread::sleep(Duration::from_millis(10));
    }

    // Events flow all along, into the session whether or not a program is connected.
    let (running, generated) = (Arc::new(AtomicBool::new(true)), Arc::new(AtomicU64::new(0)));
    let generator = {
        let (mock, running, generated) = (Arc::clone(&mock), Arc::clone(&running), Arc::clone(&generated));
        std::thread::spawn(move || {
            while running.load(Ordering::SeqCst) {
                let n = generated.load(Ordering::SeqCst);
                if mock.dispatch(0, "GROUP_AT_MESSAGE_CREATE", serde_json::json!({ "n": n })) > 0 {
                    generated.store(n + 1, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };

    let mut printed = Vec::new();
    let mut readies = 0;
    let mut rng = 0x9E37_79B9_7F4A_7C15_u64;
    let mut per_kill = Vec::new();
    for _ in 0..20 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(150 + rng % 350));
        child.kill().unwrap(); // SIGKILL: no goodbye, no last save
        child.wait().unwrap();
        let before = printed.len();
        readies += printed_events(&out, &mut printed, true);
        per_kill.push(printed.len() - before);
        child = spawn_tail_with(tail, &mock, &secret, Some(&file));
        out = lines(&mut child);
    }
    // A graceful stop, then a restart: nothing printed twice across it.
    std::thread::sleep(Duration::from_millis(300));
    let killed = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(killed.success());
    let (code, stderr) = wait_exit(&mut child);
    assert_eq!(code, 0, "{stderr}");
    readies += printed_events(&out, &mut printed, true);
    let before_restart = printed.clone();
    child = spawn_tail_with(tail, &mock, &secret, Some(&file));
    out = lines(&mut child);
    running.store(false, Ordering::SeqCst);
    generator.join().unwrap();
    let total = generated.load(Ordering::SeqCst);
    let deadline = std::time::Instant::now() + WAIT;
    let mut after = Vec::new();
    loop {
        readies += printed_events(&out, &mut after, false);
        let seen: std::collections::BTreeSet<u64> = before_restart.iter().chain(&after).copied().collect();
        if seen.len() as u64 == total {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "only {} of {total} events printed", seen.len());
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(killed.success());
    assert_eq!(wait_exit(&mut child).0, 0);
    let _ = std::fs::remove_dir_all(&dir);

    assert_eq!(readies, 1, "every restart RESUMEd: one session from start to end");
    let last_before: std::collections::BTreeSet<u64> = before_restart.iter().copied().collect();
    let twice_across_sigterm: Vec<&u64> = after.iter().filter(|n| last_before.contains(n)).collect();
    assert!(twice_across_sigterm.is_empty(), "printed again after a graceful stop: {twice_across_sigterm:?}");
    let mut all = before_restart;
    all.extend(&after);
    let distinct: std::collections::BTreeSet<u64> = all.iter().copied().collect();
    assert_eq!(distinct.len() as u64, total, "at least once: none missing");
    let duplicates = all.len() - distinct.len();
    eprintln!(
        "kill -9 x20: {total} events, {duplicates} printed twice ({:.1} a crash)",
        duplicates as f64 / 20.0
    );
    assert!(duplicates <= 20 * 1_100, "duplicates bounded by what was in flight: {duplicates}");
    let _ = per_kill;
}
