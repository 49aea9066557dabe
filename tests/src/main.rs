//! `qqgw-mock`: the loopback mock QQ gateway as a program, to point a bot at.
//!
//! ```text
//! cargo install --path tests        # once, from a qqgw checkout: the `qqgw-mock` program
//! qqgw-mock --events 5 --event GROUP_AT_MESSAGE_CREATE > mock.env &
//! env $(cat mock.env) cargo run     # your bot, in its own project
//! ```
//!
//! It prints the `QQ_BOT_*` lines that point a bot at it (stdout), intents included, then
//! serves until killed; `--help` lists the options.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use qqgw_mock::{MockConfig, MockGateway, Target};
use qqgw_proto::model::EventKind;
use serde_json::json;
use tracing_subscriber::EnvFilter;

const HELP: &str = "\
qqgw-mock: a mock QQ Bot gateway on 127.0.0.1, to run a bot against without QQ.

It prints the QQ_BOT_* variables that point a bot at it (QQ_BOT_INTENTS covering the
scripted event included), e.g.

    qqgw-mock --events 5 --event GROUP_AT_MESSAGE_CREATE > mock.env &
    env $(cat mock.env) cargo run

then serves until it is killed. Scripted events and faults start when the first shard
is READY; times count from then. (From a qqgw checkout: `cargo install --path tests`
installs it; `cargo run -p qqgw-mock -- …` runs it in place.)

Options:
  --events N         send N events (default 0), `{\"id\":\"msg-<i>\",\"content\":\"message <i>\"}`
                     with the group, channel and user ids a reply needs. Every message
                     the bot sends is checked as QQ would and logged (\"the bot sent\")
  --event NAME       the event to send (default AT_MESSAGE_CREATE), any event QQ
                     documents. The mock, like QQ, sends it only to a bot whose
                     intents cover it: the QQ_BOT_INTENTS printed do
  --rate R           events per second (default 1)
  --fault KIND@TIME  a fault at TIME (e.g. 5s, 500ms, 2m); repeatable. KIND is a close
                     code (4009: session rotation, 4914: bot offline…), `zombie` (no
                     heartbeat ACKs for three intervals), `drop` (TCP dropped without a
                     close frame), `reconnect` (op 7) or `invalid` (op 9, not resumable)
  --heartbeat TIME   heartbeat interval sent in HELLO (default 45s, as QQ)
  --shards N         shards /gateway/bot recommends (default 1)
  --routes           print every route the mock serves, one per line as
                     `METHOD /path/{param}`, and exit
  -h, --help         this text

Logs go to stderr (RUST_LOG=qqgw_mock=debug shows every frame decision).
";

/// A scripted fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Close(u16),
    Zombie,
    Drop,
    Reconnect,
    Invalid,
}

#[derive(Debug)]
struct Options {
    events: u64,
    event: String,
    rate: f64,
    faults: Vec<(Fault, Duration)>,
    heartbeat: Duration,
    shards: u32,
    routes: bool,
}

fn parse_duration(text: &str) -> Option<Duration> {
    let (number, unit) = match text.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(seconds).ok()
}

fn parse_fault(text: &str) -> Option<(Fault, Duration)> {
    let (kind, at) = text.split_once('@')?;
    let fault = match kind {
        "zombie" => Fault::Zombie,
        "drop" => Fault::Drop,
        "reconnect" => Fault::Reconnect,
        "invalid" => Fault::Invalid,
        code => Fault::Close(code.parse().ok().filter(|c| (1000..5000).contains(c))?),
    };
    Some((fault, parse_duration(at)?))
}

/// Every route the mock serves, one per line as `METHOD /path/{param}`: the token
/// endpoint, every route of QQ's OpenAPI table, and the presigned upload URLs.
fn routes() -> String {
    let mut lines = vec![format!("POST {}", qqgw_proto::TOKEN_PATH)];
    lines.extend(qqgw_proto::openapi::Route::ALL.iter().map(ToString::to_string));
    lines.push("PUT /presigned/{upload_id}/{part_index}".to_owned());
    lines.join("\n")
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        events: 0,
        event: "AT_MESSAGE_CREATE".into(),
        rate: 1.0,
        faults: Vec::new(),
        heartbeat: Duration::from_secs(45),
        shards: 1,
        routes: false,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(None);
        }
        if arg == "--routes" {
            options.routes = true;
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (arg, None),
        };
        let mut value = || inline.clone().or_else(|| args.next()).ok_or(format!("{name} needs a value"));
        let bad = |value: &str, what: &str| format!("{name} {value}: expected {what}");
        match name.as_str() {
            "--events" => {
                let v = value()?;
                options.events = v.parse().map_err(|_| bad(&v, "a number"))?;
            }
            "--event" => {
                let v = value()?;
                let kind = EventKind::from_name(&v);
                if matches!(kind, EventKind::Unknown(_) | EventKind::Ready | EventKind::Resumed) {
                    return Err(format!(
                        "--event {v}: not an event the mock can script; one of: {}",
                        scriptable()
                    ));
                }
                options.event = v;
            }
            "--rate" => {
                let v = value()?;
                options.rate =
                    v.parse().ok().filter(|r: &f64| *r > 0.0).ok_or_else(|| bad(&v, "events per second"))?;
            }
            "--fault" => {
                let v = value()?;
                options.faults.push(parse_fault(&v).ok_or_else(|| bad(&v, "KIND@TIME, e.g. 4009@5s"))?);
            }
            "--heartbeat" => {
                let v = value()?;
                options.heartbeat = parse_duration(&v)
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| bad(&v, "a time, e.g. 500ms"))?;
            }
            "--shards" => {
                let v = value()?;
                options.shards =
                    v.parse().ok().filter(|&n| n > 0).ok_or_else(|| bad(&v, "a number above 0"))?;
            }
            other => return Err(format!("unknown option {other} (see --help)")),
        }
    }
    Ok(Some(options))
}

/// Every event `--event` accepts, joined by spaces.
fn scriptable() -> String {
    let names = EventKind::ALL.iter().map(EventKind::as_str).filter(|n| !matches!(*n, "READY" | "RESUMED"));
    names.collect::<Vec<_>>().join(" ")
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("qqgw-mock: {error}");
            return ExitCode::from(2);
        }
    };
    if options.routes {
        println!("{}", routes());
        return ExitCode::SUCCESS;
    }
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("qqgw_mock=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("qqgw-mock: no tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("qqgw-mock: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    let config =
        MockConfig { heartbeat_interval: options.heartbeat, shards: options.shards, ..MockConfig::default() };
    let mock = MockGateway::start(config).await?;
    let mut stdout = std::io::stdout().lock();
    for (name, value) in mock.bot_env(&[options.event.as_str()]) {
        writeln!(stdout, "{name}={value}")?;
    }
    stdout.flush()?;
    drop(stdout);
    tracing::info!(gateway = %mock.gateway_url(), "serving; waiting for a bot");

    // Scripts start at the first READY of shard 0 (a long wait: the user starts the bot).
    let day = Duration::from_secs(86_400);
    while mock.wait_until(|r| r.readies(0) > 0, day).await.is_err() {}
    tracing::info!("the bot is ready; scripted events and faults start now");
    let start = tokio::time::Instant::now();

    let events = async {
        let every = Duration::from_secs_f64(1.0 / options.rate);
        let mut warned = false;
        let mut sent = 0;
        for i in 0..options.events {
            tokio::time::sleep_until(start + every.mul_f64(i as f64)).await;
            // Where the message came from, for each kind of message, so that a bot can reply.
            let d = json!({
                "id": format!("msg-{i}"), "content": format!("message {i}"),
                "group_openid": "mock-group", "channel_id": "mock-channel", "guild_id": "mock-guild",
                "author": {"id": "10000", "user_openid": "mock-user", "member_openid": "mock-member"},
            });
            if mock.dispatch(Target::All, &options.event, d) > 0 {
                sent += 1;
            } else if !warned {
                warned = true;
                tracing::warn!(
                    event = options.event,
                    "not sent: the bot's intents do not cover it, or it has no session (QQ_BOT_INTENTS)"
                );
            }
        }
        if options.events > 0 {
            tracing::info!(name = options.event, "{sent} of {} scripted events sent", options.events);
        }
    };
    let faults = futures_util::future::join_all(options.faults.iter().map(|&(fault, at)| {
        let mock = &mock;
        let heartbeat = options.heartbeat;
        async move {
            tokio::time::sleep_until(start + at).await;
            tracing::info!(?fault, "fault");
            match fault {
                Fault::Close(code) => drop(mock.close(Target::All, code)),
                Fault::Drop => drop(mock.drop_connection(Target::All)),
                Fault::Reconnect => drop(mock.reconnect(Target::All)),
                Fault::Invalid => drop(mock.invalid_session(Target::All, false)),
                Fault::Zombie => {
                    mock.withhold_acks(Target::All, true);
                    tokio::time::sleep(heartbeat * 3).await;
                    mock.withhold_acks(Target::All, false);
                }
            }
        }
    }));
    // What the bot sends, as it arrives.
    let sends = async {
        let mut shown = 0;
        while let Ok(record) = mock.wait_until(|r| r.api_calls.len() > shown, day).await {
            for send in record.api_calls.iter().skip(shown) {
                tracing::info!(
                    method = send.method,
                    path = send.path,
                    status = send.status,
                    code = ?send.code,
                    content = ?send.content(),
                    msg_id = ?send.msg_id(),
                    msg_seq = ?send.msg_seq(),
                    "the bot sent"
                );
            }
            shown = record.api_calls.len();
        }
    };
    futures_util::future::join3(events, faults, sends).await;
    // Serve on until killed.
    std::future::pending::<()>().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn options_parse() {
        let options = parse(args("--events 5 --rate=2 --fault 4009@5s --fault zombie@500ms --heartbeat 1m"))
            .ok()
            .flatten();
        let options = options.as_ref();
        assert_eq!(options.map(|o| o.events), Some(5));
        assert_eq!(options.map(|o| o.rate), Some(2.0));
        assert_eq!(options.map(|o| o.heartbeat), Some(Duration::from_secs(60)));
        assert_eq!(
            options.map(|o| o.faults.clone()),
            Some(vec![
                (Fault::Close(4009), Duration::from_secs(5)),
                (Fault::Zombie, Duration::from_millis(500))
            ])
        );
        assert!(matches!(parse(args("--help")), Ok(None)));
        assert_eq!(
            parse(args("--fault 4009")).err().as_deref(),
            Some("--fault 4009: expected KIND@TIME, e.g. 4009@5s")
        );
        assert_eq!(parse(args("--nope")).err().as_deref(), Some("unknown option --nope (see --help)"));
        assert_eq!(parse(args("--events")).err().as_deref(), Some("--events needs a value"));
        assert_eq!(parse(args("--routes")).ok().flatten().map(|o| o.routes), Some(true));
    }

    #[test]
    fn routes_lists_every_route_of_the_table() {
        let printed = routes();
        let lines: Vec<&str> = printed.lines().collect();
        assert_eq!(lines.len(), qqgw_proto::openapi::Route::ALL.len() + 2);
        assert!(lines.contains(&"PUT /interactions/{interaction_id}"), "{printed}");
        assert!(lines.contains(&"POST /v2/users/{user_openid}/stream_messages"), "{printed}");
        for line in lines {
            let (method, path) = line.split_once(' ').unwrap_or_default();
            assert!(
                ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method) && path.starts_with('/'),
                "{line}"
            );
        }
    }
}
