//! The frames a client sends: IDENTIFY, RESUME and heartbeats.

use serde::Serialize;

use crate::intents::Intents;
use crate::opcode::OpCode;
use crate::session::Session;
use crate::shard::ShardId;

#[derive(Serialize)]
struct Frame<D> {
    op: u8,
    d: D,
}

#[derive(Serialize)]
struct Identify<'a> {
    token: &'a str,
    intents: Intents,
    shard: ShardId,
    properties: Properties,
}

/// `properties` has no effect on QQ's side; it names the OS and the library.
#[derive(Serialize)]
struct Properties {
    #[serde(rename = "$os")]
    os: &'static str,
    #[serde(rename = "$browser")]
    browser: &'static str,
    #[serde(rename = "$device")]
    device: &'static str,
}

#[derive(Serialize)]
struct Resume<'a> {
    token: &'a str,
    session_id: &'a str,
    seq: u64,
}

fn to_text<D: Serialize>(op: OpCode, d: D) -> String {
    // Serializing these plain structs cannot fail.
    serde_json::to_string(&Frame { op: op.as_u8(), d }).unwrap_or_default()
}

/// IDENTIFY (op 2); `authorization` is `QQBot {access_token}`.
pub(crate) fn identify(authorization: &str, intents: Intents, shard: ShardId) -> String {
    let properties = Properties { os: std::env::consts::OS, browser: "qqgw", device: "qqgw" };
    to_text(OpCode::Identify, Identify { token: authorization, intents, shard, properties })
}

/// RESUME (op 6) from `session`: its `seq` is 0 when no event was delivered.
pub(crate) fn resume(authorization: &str, session: &Session) -> String {
    to_text(OpCode::Resume, Resume { token: authorization, session_id: &session.id, seq: session.seq })
}

/// A heartbeat (op 1): `d` is the last sequence number, `null` before any.
pub(crate) fn heartbeat(seq: Option<u64>) -> String {
    to_text(OpCode::Heartbeat, seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_match_the_fixtures() {
        let id = identify("QQBot tok\"en", Intents::from_bits_retain(1_174_410_243), ShardId::ONE);
        let v: serde_json::Value = serde_json::from_str(&id).unwrap_or_default();
        assert_eq!(v["op"], 2);
        assert_eq!(v["d"]["token"], "QQBot tok\"en");
        assert_eq!(v["d"]["intents"], 1_174_410_243u32);
        assert_eq!(v["d"]["shard"], serde_json::json!([0, 1]));
        assert_eq!(v["d"]["properties"]["$browser"], "qqgw");
        assert_eq!(
            resume("QQBot t", &Session::new("s-1", 1337, ShardId::ONE)),
            r#"{"op":6,"d":{"token":"QQBot t","session_id":"s-1","seq":1337}}"#
        );
        assert_eq!(heartbeat(None), r#"{"op":1,"d":null}"#);
        assert_eq!(heartbeat(Some(251)), r#"{"op":1,"d":251}"#);
    }
}
