//! Receives a bot's events over QQ's HTTP callbacks and prints each as a JSON line, like
//! `tail` does for the gateway.
//!
//! ```text
//! QQ_BOT_SECRET=… QQ_BOT_WEBHOOK_ADDR=127.0.0.1:8080 cargo run -p qqgw-tokio --features webhook --example webhook
//! ```
//!
//! QQ calls only HTTPS URLs on ports 80, 443, 8080 or 8443: put a TLS-terminating proxy in
//! front of this address and configure its public URL in the QQ console. The console's
//! address check (op 13) is answered, every callback's signature is verified, and events
//! QQ retries are printed once.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use futures_util::StreamExt;
use qqgw_tokio::Event;
use qqgw_tokio::webhook::{Webhook, WebhookServer};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    // Logs on stderr (`RUST_LOG` sets the level), in colour only on a terminal.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let result = serve().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("webhook: {reason}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> Result<(), String> {
    let secret = std::env::var("QQ_BOT_SECRET")
        .map_err(|_| "environment variable QQ_BOT_SECRET is not set (the AppSecret in the QQ bot console)")?;
    let addr = std::env::var("QQ_BOT_WEBHOOK_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let webhook = Webhook::from_secret(&secret).map_err(|e| e.to_string())?;
    let (server, mut events) =
        WebhookServer::bind(addr.as_str(), webhook).await.map_err(|e| e.to_string())?;
    eprintln!("webhook endpoint on http://{}", server.local_addr());
    let mut stdout = std::io::stdout().lock();
    loop {
        let event = tokio::select! {
            event = events.next() => event,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let Some(event) = event else { return Ok(()) };
        if let Event::Dispatch(dispatch) = event.event {
            let line = serde_json::to_string(&dispatch).map_err(|e| e.to_string())?;
            if writeln!(stdout, "{line}").and_then(|()| stdout.flush()).is_err() {
                return Ok(());
            }
        }
    }
}
