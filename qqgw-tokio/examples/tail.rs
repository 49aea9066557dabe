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
//! Optional: `QQ_BOT_API_BASE`, `QQ_BOT_TOKEN_URL`, `QQ_BOT_INTENTS`, `QQ_BOT_SHARDS`,
//! `QQ_BOT_SESSION_FILE`, and `QQ_BOT_ALLOW_INSECURE=1` to point it at a plaintext
//! (`http://`, `ws://`) mock: without it only TLS endpoints are used.
//! Group and private (C2C) messages need `GROUP_AND_C2C_EVENT` in `QQ_BOT_INTENTS`, e.g.
//! `QQ_BOT_INTENTS='GUILDS|GUILD_MEMBERS|PUBLIC_GUILD_MESSAGES|GROUP_AND_C2C_EVENT'`.
//!
//! Without credentials, point it at the mock: `cargo run -p qqgw-mock -- --events 5`
//! prints the `QQ_BOT_*` variables to set.

use std::io::IsTerminal;
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

// One thread: the shards hand their events to the printing loop without waking another
// thread for each batch, and nothing here would use a second one.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // Logs on stderr (`RUST_LOG` sets the level), in colour only on a terminal.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let result = match qqgw_tokio::Config::from_env() {
        Ok(config) => qqgw_tokio::tail::<qqgw_tokio::Tokio>(config, &mut std::io::stdout().lock()).await,
        Err(error) => Err(error.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("tail: {reason}");
            ExitCode::FAILURE
        }
    }
}
