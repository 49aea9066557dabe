#!/usr/bin/env bash
# qqgw's `tail` against botrs 0.13 on the same mock, under a burst of small events:
# CPU per event and peak RSS of each client process, medians of several runs, the two
# clients run alternately so that the load of the machine falls on both alike.
#
#   scripts/tail-vs-botrs.sh [RUNS] [EVENTS]          (default 5 runs of 100000 events)
#   BASELINE_TAIL=/path/to/an/older/tail scripts/tail-vs-botrs.sh    (a third client in the rotation)
#
# Builds qqgw's `tail` example and the `qqgw-mock` program (release), and, in a scratch
# project under $SCRATCH (default /tmp/qqgw-botrs-bench, created by this script, never
# part of the repository), a botrs 0.13 program that prints every group @-message as
# one JSON line, as `tail` does. botrs has no setting for its endpoints: the scratch
# project takes botrs from crates.io and patches its two base URLs (the API and the token
# endpoint) to read `BOTRS_API_BASE` and `BOTRS_TOKEN_BASE`, so that it talks to the
# mock, and lets it start without `GET /users/@me` (which the mock does not serve and
# botrs only logs). Nothing on its event path is changed.
#
# Each run: a fresh mock (`--events EVENTS --rate 1e9`: the events go out as fast as it
# can once the client is READY), the client under `/usr/bin/time -v` with its stdout in
# a file, until it has printed READY and every event; then SIGTERM. CPU is user + system
# time of the client process over its whole life (start-up included: a few ms);
# RSS is its peak resident set.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${1:-5}
EVENTS=${2:-100000}
SCRATCH=${SCRATCH:-/tmp/qqgw-botrs-bench}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
export CARGO_TARGET_DIR=$TARGET

command -v /usr/bin/time >/dev/null || { echo "needs GNU time (/usr/bin/time): apt-get install time" >&2; exit 1; }

echo "== building qqgw's tail and the mock (release)" >&2
cargo build --release -q -p qqgw-tokio --example tail
cargo build --release -q -p qqgw-mock --bin qqgw-mock
# Copies, so that another build into the same target directory cannot swap them mid-run.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$TARGET/release/examples/tail" "$work/qqgw-tail"
cp "$TARGET/release/qqgw-mock" "$work/qqgw-mock"
QQGW_TAIL=$work/qqgw-tail
MOCK=$work/qqgw-mock

echo "== building the botrs 0.13 program in $SCRATCH" >&2
mkdir -p "$SCRATCH/src"
cat > "$SCRATCH/Cargo.toml" <<'EOF'
[package]
name = "botrs-tail"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
botrs = "=0.13.0"
async-trait = "0.1"
serde_json = "1"
tokio = { version = "1", features = ["full"] }

[patch.crates-io]
botrs = { path = "botrs" }

[profile.release]
debug = 1

[workspace]
EOF
cat > "$SCRATCH/src/main.rs" <<'EOF'
//! Every group @-message as one JSON line on stdout, READY first: botrs's side of the
//! comparison with qqgw's `tail`.
use std::io::Write;

use botrs::{Client, Context, EventHandler, GroupMessage, Intents, Ready, Token};

struct Tail;

#[async_trait::async_trait]
impl EventHandler for Tail {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{{\"type\":\"READY\",\"session\":{:?}}}", ready.session_id);
        let _ = out.flush();
    }

    async fn group_message_create(&self, _ctx: Context, message: GroupMessage) {
        let line = serde_json::to_string(&message).unwrap_or_default();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let token = Token::from_env()?;
    // GUILDS, GUILD_MEMBERS, PUBLIC_GUILD_MESSAGES and group/C2C events, as qqgw's tail is given.
    let intents = Intents::from_bits((1 << 0) | (1 << 1) | (1 << 30) | (1 << 25));
    let mut client = Client::new(token, intents, Tail, false)?;
    client.start().await?;
    Ok(())
}
EOF
if [ ! -d "$SCRATCH/botrs" ]; then
    (cd "$SCRATCH" && sed -i 's/^\[patch.crates-io\]/#&/; s/^botrs = { path/#&/' Cargo.toml && CARGO_TARGET_DIR="$SCRATCH/target" cargo fetch -q)
    src=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -maxdepth 2 -type d -name 'botrs-0.13.0' | head -1)
    [ -n "$src" ] || { echo "botrs 0.13.0 not found in the cargo registry" >&2; exit 1; }
    cp -r "$src" "$SCRATCH/botrs"
    (cd "$SCRATCH" && sed -i 's/^#\(\[patch.crates-io\]\)/\1/; s/^#\(botrs = { path\)/\1/' Cargo.toml)
fi
# The two base URLs, from the environment when set.
grep -q BOTRS_API_BASE "$SCRATCH/botrs/src/http/client.rs" ||
    sed -i 's|crate::DEFAULT_API_URL.to_string()|std::env::var("BOTRS_API_BASE").unwrap_or_else(\|_\| crate::DEFAULT_API_URL.to_string())|' \
        "$SCRATCH/botrs/src/http/client.rs"
grep -q BOTRS_TOKEN_BASE "$SCRATCH/botrs/src/token/core.rs" ||
    sed -i 's|format!("{}/app/getAppAccessToken", crate::constant::TOKEN_API_URL)|format!("{}/app/getAppAccessToken", std::env::var("BOTRS_TOKEN_BASE").unwrap_or_else(\|_\| crate::constant::TOKEN_API_URL.to_string()))|' \
        "$SCRATCH/botrs/src/token/core.rs"
# The mock serves no `GET /users/@me`, which botrs asks once at start for its log line:
# without an answer it takes the defaults of every field.
grep -q 'BotInfo defaults' "$SCRATCH/botrs/src/client/lifecycle.rs" ||
    sed -i 's|let bot_info = self.api.get_bot_info().await?;|let bot_info = self.api.get_bot_info().await.unwrap_or_else(\|_\| serde_json::from_str("{}").expect("BotInfo defaults"));|' \
        "$SCRATCH/botrs/src/client/lifecycle.rs"
for patched in "http/client.rs:BOTRS_API_BASE" "token/core.rs:BOTRS_TOKEN_BASE" "client/lifecycle.rs:BotInfo defaults"; do
    grep -q "${patched#*:}" "$SCRATCH/botrs/src/${patched%%:*}" || { echo "could not patch botrs's ${patched%%:*}" >&2; exit 1; }
done
(cd "$SCRATCH" && CARGO_TARGET_DIR="$SCRATCH/target" cargo build --release -q)
BOTRS_TAIL=$SCRATCH/target/release/botrs-tail

# run NAME BINARY: one run; prints "cpu_seconds max_rss_kib"
run() {
    local name=$1 bin=$2
    rm -f "$work/mock.env"
    "$MOCK" --events "$EVENTS" --event GROUP_AT_MESSAGE_CREATE --rate 1e9 >"$work/mock.env" 2>"$work/mock.log" &
    local mock=$!
    while ! grep -q QQ_BOT_INTENTS "$work/mock.env" 2>/dev/null; do sleep 0.05; done
    local api token
    api=$(sed -n 's/^QQ_BOT_API_BASE=//p' "$work/mock.env")
    token=$(sed -n 's/^QQ_BOT_TOKEN_URL=//p' "$work/mock.env")
    : >"$work/$name.out"
    env $(cat "$work/mock.env") RUST_LOG=warn BOTRS_API_BASE="$api" BOTRS_TOKEN_BASE="${token%/app/getAppAccessToken}" \
        /usr/bin/time -v -o "$work/$name.time" "$bin" >"$work/$name.out" 2>"$work/$name.err" &
    local timer=$!
    local want=$((EVENTS + 1)) deadline=$((SECONDS + 300))
    while [ "$(wc -l <"$work/$name.out")" -lt "$want" ]; do
        if [ $SECONDS -gt $deadline ] || ! kill -0 $timer 2>/dev/null; then
            echo "$name: only $(wc -l <"$work/$name.out") of $want lines; stderr:" >&2
            tail -5 "$work/$name.err" >&2
            kill $mock 2>/dev/null || true
            return 1
        fi
        sleep 0.05
    done
    local client
    client=$(pgrep -P $timer | head -1)
    kill -TERM "$client" 2>/dev/null || true
    wait $timer 2>/dev/null || true
    kill $mock 2>/dev/null || true
    wait $mock 2>/dev/null || true
    awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} /Maximum resident set size/ {r=$2} END {printf "%.3f %d\n", u+s, r}' "$work/$name.time"
}

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

: >"$work/qqgw.rows"
: >"$work/botrs.rows"
clients="qqgw botrs"
if [ -n "${BASELINE_TAIL:-}" ]; then
    clients="qqgw baseline botrs"
    : >"$work/baseline.rows"
fi
for i in $(seq 1 "$RUNS"); do
    # Rotate which goes first, so that none always runs on a warmer machine.
    order=$(echo $clients | tr ' ' '\n' | awk -v k=$((i - 1)) '{a[NR-1]=$0} END {for (j = 0; j < NR; j++) print a[(j + k) % NR]}')
    for name in $order; do
        case $name in
            qqgw) bin=$QQGW_TAIL ;;
            baseline) bin=$BASELINE_TAIL ;;
            botrs) bin=$BOTRS_TAIL ;;
        esac
        row=$(run "$name" "$bin")
        echo "$row" >>"$work/$name.rows"
        echo "run $i $name: cpu ${row% *} s, max RSS ${row#* } KiB" >&2
    done
done

echo
echo "$RUNS runs of $EVENTS GROUP_AT_MESSAGE_CREATE events each, the clients in turn; medians:"
echo
echo "| client | CPU per event | peak RSS | runs (CPU µs/event) |"
echo "|---|---:|---:|---|"
for name in $clients; do
    cpu=$(awk '{print $1}' "$work/$name.rows" | median)
    rss=$(awk '{print $2}' "$work/$name.rows" | median)
    all=$(awk -v n="$EVENTS" '{printf "%s%.2f", (NR>1?" / ":""), $1/n*1e6}' "$work/$name.rows")
    printf "| %s | %.2f µs | %.1f MiB | %s |\n" "$name" "$(echo "$cpu $EVENTS" | awk '{print $1/$2*1e6}')" \
        "$(echo "$rss" | awk '{print $1/1024}')" "$all"
done
q=$(awk '{print $1}' "$work/qqgw.rows" | median)
b=$(awk '{print $1}' "$work/botrs.rows" | median)
echo
echo "botrs CPU ÷ qqgw CPU (medians): $(echo "$b $q" | awk '{printf "%.2f", $1/$2}')×"
if [ -n "${BASELINE_TAIL:-}" ]; then
    p=$(awk '{print $1}' "$work/baseline.rows" | median)
    echo "baseline CPU ÷ qqgw CPU (medians): $(echo "$p $q" | awk '{printf "%.2f", $1/$2}')×"
fi
