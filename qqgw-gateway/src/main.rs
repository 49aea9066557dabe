//! `qqgw-gateway`: one process that owns a QQ bot's gateway connections (or its webhook
//! endpoint), publishes every event to Redis Streams for workers in any language,
//! executes their replies from an outbox with its own token, and serves `/metrics`,
//! `/healthz` and `/readyz`. See the README for the recipe, the stream format and the
//! metrics.

mod cli;
mod http;
mod logs;
mod run;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    logs::init(args.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("qqgw-gateway: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(run::Exit { code, reason }) => {
            // One line that says what to fix (never a secret: qqgw's errors carry none).
            eprintln!("qqgw-gateway: {reason}");
            ExitCode::from(code)
        }
    }
}
