//! A bot against the embedded mock QQ gateway, on async-std (or smol: the adapter runs
//! unchanged on either): no credentials, no network.
//!
//! It answers messages in the log, lives through a session rotation (close 4009) and a
//! zombie connection while events keep coming, and shows that every event arrived exactly
//! once. Exits 1 if one was lost or duplicated.
//!
//! ```text
//! cargo run -p qqgw-async-std --example async-demo
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    tracing_subscriber::fmt().with_env_filter(qqgw_mock::log_filter("info")).with_target(false).init();
    let result = async_std::task::block_on(async {
        match qqgw_mock::demo::run::<qqgw_async_std::AsyncIo>().await {
            Ok(report) if report.ok() => Ok(()),
            Ok(report) => {
                Err(format!("events were lost or duplicated, or no zombie was detected: {report:?}"))
            }
            Err(error) => Err(error.to_string()),
        }
    });
    qqgw_mock::exit_code("demo", result)
}
