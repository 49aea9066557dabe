//! The `qqgw-mock` program as a user runs it: its printed `QQ_BOT_*` lines point a bot at
//! it, and its scripted events and faults reach the bot.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use futures_util::StreamExt;
use qqgw_client::model::EventKind;
use qqgw_client::{Config, Event};

const WAIT: Duration = Duration::from_secs(10);

/// The running program, killed when the test ends however it ends.
struct Mock(Child);

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn mock(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_qqgw-mock"));
    command.args(args).env("RUST_LOG", "warn");
    command
}

/// Starts the program and reads its six `QQ_BOT_*` lines.
fn start(args: &[&str]) -> (Mock, HashMap<String, String>) {
    let mut child = mock(args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = Mock(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut vars = HashMap::new();
    while vars.len() < 6 {
        let line = rx.recv_timeout(WAIT).expect("the QQ_BOT_* lines in time");
        let (name, value) = line.split_once('=').unwrap_or_else(|| panic!("not NAME=value: {line}"));
        assert!(name.starts_with("QQ_BOT_"), "{line}");
        vars.insert(name.to_owned(), value.to_owned());
    }
    (child, vars)
}

#[tokio::test]
async fn a_bot_pointed_by_the_printed_lines_gets_the_scripted_events_and_faults() {
    let (_mock, vars) =
        start(&["--events", "3", "--rate", "20", "--heartbeat", "200ms", "--fault", "4009@1s"]);
    let base = &vars["QQ_BOT_API_BASE"];
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let config = Config::from_lookup(|name| vars.get(name).cloned()).unwrap();
    let seen = tokio::time::timeout(WAIT, async {
        let mut client = qqgw_tokio::Client::connect(config).await.unwrap();
        let mut events = client.take_events().unwrap();
        let mut seen = Vec::new();
        while let Some(event) = events.next().await {
            if let Event::Dispatch(d) = event.event {
                let data: serde_json::Value = serde_json::from_str(d.data().get()).unwrap();
                let content = data.get("content").and_then(|c| c.as_str()).map(str::to_owned);
                seen.push((d.name().to_owned(), content));
                if d.name() == "RESUMED" {
                    break;
                }
            }
        }
        drop(events);
        client.shutdown().await.unwrap();
        seen
    })
    .await
    .expect("the events and the rotation in time");
    let names: Vec<(&str, Option<&str>)> = seen.iter().map(|(n, c)| (n.as_str(), c.as_deref())).collect();
    assert_eq!(
        names,
        [
            ("READY", None),
            ("AT_MESSAGE_CREATE", Some("message 0")),
            ("AT_MESSAGE_CREATE", Some("message 1")),
            ("AT_MESSAGE_CREATE", Some("message 2")),
            ("RESUMED", None),
        ]
    );
}

#[test]
fn help_lists_the_options_and_bad_ones_exit_2() {
    let help = mock(&["--help"]).output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    for option in ["--events", "--event", "--rate", "--fault", "--heartbeat", "--shards"] {
        assert!(text.contains(option), "{option} missing from --help");
    }
    let bad = mock(&["--fault", "4009"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(bad.stderr).unwrap(),
        "qqgw-mock: --fault 4009: expected KIND@TIME, e.g. 4009@5s\n"
    );
}

/// What `Config::from_env` would read from the program's lines, and nothing else.
fn config_from(vars: &HashMap<String, String>) -> Config {
    Config::from_lookup(|name| vars.get(name).cloned()).unwrap()
}

#[tokio::test]
async fn the_printed_lines_suffice_for_every_event_the_mock_scripts() {
    let kinds: Vec<_> =
        EventKind::ALL.iter().filter(|k| !matches!(k, EventKind::Ready | EventKind::Resumed)).collect();
    assert!(kinds.len() > 40, "{kinds:?}");
    for kind in kinds {
        let (mock, vars) = start(&["--events", "1", "--rate", "100", "--event", kind.as_str()]);
        let received = tokio::time::timeout(WAIT, async {
            let mut client = qqgw_tokio::Client::connect(config_from(&vars)).await.unwrap();
            let mut events = client.take_events().unwrap();
            let mut received = false;
            while let Some(event) = events.next().await {
                if matches!(&event.event, Event::Dispatch(d) if d.name() == kind.as_str()) {
                    received = true;
                    break;
                }
            }
            drop(events);
            client.shutdown().await.unwrap();
            received
        })
        .await
        .unwrap_or_else(|_| panic!("{} did not arrive in time with {vars:?}", kind.as_str()));
        assert!(received, "{}", kind.as_str());
        drop(mock);
    }
}

#[test]
fn an_unknown_event_is_refused_with_the_list() {
    let bad = mock(&["--event", "GROUP_MESSAGE"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let text = String::from_utf8(bad.stderr).unwrap();
    assert!(
        text.starts_with("qqgw-mock: --event GROUP_MESSAGE: not an event the mock can script; one of: "),
        "{text}"
    );
    assert!(text.contains(" GROUP_AT_MESSAGE_CREATE "), "{text}");
}
