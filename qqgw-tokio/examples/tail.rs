//! Prints every dispatch of a real bot as one JSON object per line.
//!
//! ```text
//! QQ_BOT_APP_ID=… QQ_BOT_SECRET=… cargo run -p qqgw-tokio --example tail
//! ```
//!
//! Each line has `shard` (`[id, total]`), `seq`, `type`, `id` and `d` (the event data as
//! received); READY and RESUMED are printed too. Logs go to stderr (`RUST_LOG` sets the
//! level). Bad credentials and fatal close codes end it with exit code 1 and a one-line
//! reason on stderr; SIGINT and SIGTERM close the connections gracefully and exit 0.
//! Optional: `QQ_BOT_API_BASE`, `QQ_BOT_TOKEN_URL`, `QQ_BOT_INTENTS`, `QQ_BOT_SHARDS`.

use std::io::Write;
use std::process::ExitCode;

use futures_util::StreamExt;
use qqgw_tokio::{Client, Config, Event};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("tail: {reason}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    let mut client = Client::connect(config).await.map_err(|e| e.to_string())?;
    let mut events = client.take_events().ok_or("events already taken")?;
    let stop = client.shutdown_handle();
    tokio::spawn(async move {
        wait_for_signal().await;
        stop.close();
    });

    let mut stdout = std::io::stdout().lock();
    let mut fatal = None;
    while let Some(event) = events.next().await {
        match event.event {
            Event::Dispatch(dispatch) => {
                let line = serde_json::to_string(&dispatch).map_err(|e| e.to_string())?;
                if writeln!(stdout, "{line}").and_then(|()| stdout.flush()).is_err() {
                    break; // stdout closed (e.g. `| head`): stop quietly
                }
            }
            Event::Fatal(error) => fatal = Some(format!("shard {}: {error}", event.shard)),
            _ => {}
        }
    }
    drop(stdout);
    client.shutdown().await.map_err(|e| e.to_string())?;
    fatal.map_or(Ok(()), Err)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
