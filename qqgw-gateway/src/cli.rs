//! The command line: flags, each with its environment variable.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{ArgAction, Parser, ValueEnum};

/// The `QQ_BOT_*` variables are read by `qqgw_client::Config::from_env`'s rules (the
/// table in the README); these are the gateway's own.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "qqgw-gateway",
    version,
    about = "A QQ Bot gateway as a service: events to Redis Streams for workers in any language, \
             replies through an outbox, /metrics, /healthz and /readyz.",
    after_help = "The bot's settings come from the QQ_BOT_* variables (QQ_BOT_APP_ID, QQ_BOT_SECRET, \
                  QQ_BOT_INTENTS, QQ_BOT_SHARDS, QQ_BOT_API_BASE, QQ_BOT_TOKEN_URL, \
                  QQ_BOT_ALLOW_INSECURE; QQ_BOT_SESSION_FILE is not used: sessions live in Redis). \
                  Exit codes: 0 after SIGTERM or SIGINT (drained), 1 when QQ stops the bot for good \
                  (its one-line reason on stderr), 2 for a bad setting, 130 on a second signal."
)]
pub(crate) struct Args {
    /// The Redis to use (one primary; Redis Cluster is not supported).
    #[arg(long, env = "QQGW_REDIS_URL", value_name = "URL")]
    pub(crate) redis_url: String,

    /// Where /metrics, /healthz and /readyz are served.
    #[arg(long, env = "QQGW_LISTEN", default_value = "127.0.0.1:9464", value_name = "ADDR")]
    pub(crate) listen: SocketAddr,

    /// Receive QQ's signed webhook callbacks on ADDR instead of connecting to the
    /// gateway, and publish them to the same streams (shard 0's).
    #[arg(long, env = "QQGW_WEBHOOK", value_name = "ADDR")]
    pub(crate) webhook: Option<SocketAddr>,

    /// With --webhook: serve only this path (default: any path).
    #[arg(long, env = "QQGW_WEBHOOK_PATH", value_name = "PATH")]
    pub(crate) webhook_path: Option<String>,

    /// The prefix of every Redis key (default: qqgw:APP_ID).
    #[arg(long, env = "QQGW_PREFIX", value_name = "PREFIX")]
    pub(crate) prefix: Option<String>,

    /// Take over the shards of a gateway that died (and any shard no gateway runs).
    #[arg(long, env = "QQGW_TAKEOVER", default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub(crate) takeover: bool,

    /// How long a shard's lease lasts unrenewed: a dead gateway's shards are taken over
    /// within it.
    #[arg(long, env = "QQGW_LEASE_TTL", default_value = "10s", value_parser = duration, value_name = "TIME")]
    pub(crate) lease_ttl: Duration,

    /// The bound of each shard's stream, in entries.
    #[arg(long, env = "QQGW_STREAM_MAX_LEN", default_value_t = 100_000, value_name = "N")]
    pub(crate) stream_max_len: u64,

    /// Execute the requests workers write to the outbox.
    #[arg(long, env = "QQGW_OUTBOX", default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub(crate) outbox: bool,

    /// Outbox requests executed at once.
    #[arg(long, env = "QQGW_OUTBOX_CONCURRENCY", default_value_t = 16, value_name = "N")]
    pub(crate) outbox_concurrency: usize,

    /// The bound of the outbox stream: past it, requests are refused (outbox_full).
    #[arg(long, env = "QQGW_OUTBOX_MAX_LEN", default_value_t = 10_000, value_name = "N")]
    pub(crate) outbox_max_len: u64,

    /// A shard that was READY counts as ready while it reconnects (RESUMEs) for this long.
    #[arg(long, env = "QQGW_READY_GRACE", default_value = "30s", value_parser = duration, value_name = "TIME")]
    pub(crate) ready_grace: Duration,

    /// How often the streams' length and consumer lag are sampled.
    #[arg(long, env = "QQGW_SAMPLE_EVERY", default_value = "5s", value_parser = duration, value_name = "TIME")]
    pub(crate) sample_every: Duration,

    /// Log format: text, or json (one object a line, with the shard's span fields).
    #[arg(long, env = "QQGW_LOG_FORMAT", default_value = "text", value_name = "FORMAT")]
    pub(crate) log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}

/// A duration: `500ms`, `10s`, `2m`, or a number of seconds.
pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| format!("{text:?} is not a duration (500ms, 10s, 2m)"))?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (ms, s or m)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_written() {
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("3"), Ok(Duration::from_secs(3)));
        assert!(duration("1h").is_err());
        assert!(duration("x").is_err());
    }

    #[test]
    fn the_flags_are_consistent() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }
}
