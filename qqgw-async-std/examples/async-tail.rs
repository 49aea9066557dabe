//! Prints every dispatch of a real bot as one JSON object per line, on smol (or
//! async-std: the adapter runs unchanged on either).
//!
//! ```text
//! QQ_BOT_APP_ID=… QQ_BOT_SECRET=… cargo run -p qqgw-async-std --example async-tail
//! ```
//!
//! Same contract as `qqgw-tokio`'s `tail`: lines with `shard`, `seq`, `type`, `id`, `d`
//! (READY and RESUMED included) on stdout, logs on stderr, exit 1 with a one-line reason
//! on bad credentials or fatal close codes, exit 0 after a graceful close on SIGINT or
//! SIGTERM. Only TLS endpoints are used unless `QQ_BOT_ALLOW_INSECURE=1` (for a local
//! plaintext mock).

use std::io::IsTerminal;
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    // Logs on stderr (`RUST_LOG` sets the level), in colour only on a terminal.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let result = smol::block_on(async {
        let config = qqgw_async_std::Config::from_env().map_err(|e| e.to_string())?;
        qqgw_async_std::tail::<qqgw_async_std::AsyncIo>(config, &mut std::io::stdout().lock()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("tail: {reason}");
            ExitCode::FAILURE
        }
    }
}
