//! The frames QQ's gateway sends, well formed, for fakes and generators. The opcodes come
//! from [`OpCode`]; every fake server and generator of this crate builds its frames here.

use crate::opcode::OpCode;

/// `s` as QQ writes it: a number, or `null`.
fn seq(seq: Option<u64>) -> String {
    seq.map_or_else(|| "null".to_owned(), |s| s.to_string())
}

/// HELLO (op 10) with this `heartbeat_interval`, written as given (a number in
/// milliseconds, or anything else to test the machine's reading of it).
#[must_use]
pub fn hello(interval: impl core::fmt::Display) -> String {
    format!(r#"{{"op":{},"d":{{"heartbeat_interval":{interval}}}}}"#, OpCode::Hello.as_u8())
}

/// HEARTBEAT_ACK (op 11).
#[must_use]
pub fn heartbeat_ack() -> String {
    format!(r#"{{"op":{}}}"#, OpCode::HeartbeatAck.as_u8())
}

/// A heartbeat QQ asks for (op 1 from the server).
#[must_use]
pub fn heartbeat_request() -> String {
    format!(r#"{{"op":{},"d":null}}"#, OpCode::Heartbeat.as_u8())
}

/// RECONNECT (op 7).
#[must_use]
pub fn reconnect() -> String {
    format!(r#"{{"op":{}}}"#, OpCode::Reconnect.as_u8())
}

/// INVALID_SESSION (op 9) with `d = resumable`.
#[must_use]
pub fn invalid_session(resumable: bool) -> String {
    format!(r#"{{"op":{},"d":{resumable}}}"#, OpCode::InvalidSession.as_u8())
}

/// READY for a new session `session_id`, numbered `s`.
#[must_use]
pub fn ready(session_id: &str, s: Option<u64>) -> String {
    format!(
        r#"{{"op":{},"s":{},"t":"READY","d":{{"version":1,"session_id":"{session_id}","user":{{"id":"1","username":"fake","bot":true}},"shard":[0,1]}}}}"#,
        OpCode::Dispatch.as_u8(),
        seq(s)
    )
}

/// RESUMED, numbered `s`.
#[must_use]
pub fn resumed(s: Option<u64>) -> String {
    format!(r#"{{"op":{},"s":{},"t":"RESUMED","d":""}}"#, OpCode::Dispatch.as_u8(), seq(s))
}

/// An event `name` numbered `s`, with event id `id` (`None`: written as `null`) and data
/// `d` (JSON text).
#[must_use]
pub fn dispatch(name: &str, s: Option<u64>, id: Option<&str>, d: &str) -> String {
    let id = id.map_or_else(|| "null".to_owned(), |id| format!(r#""{id}""#));
    format!(r#"{{"op":{},"s":{},"t":"{name}","id":{id},"d":{d}}}"#, OpCode::Dispatch.as_u8(), seq(s))
}

/// A frame of opcode `op` with an empty object for `d`.
#[must_use]
pub fn with_op(op: u64) -> String {
    format!(r#"{{"op":{op},"d":{{}}}}"#)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Envelope;

    #[test]
    fn every_frame_parses_with_its_opcode() {
        let frames = [
            (hello(45_000), OpCode::Hello),
            (heartbeat_ack(), OpCode::HeartbeatAck),
            (heartbeat_request(), OpCode::Heartbeat),
            (reconnect(), OpCode::Reconnect),
            (invalid_session(true), OpCode::InvalidSession),
            (ready("s", Some(1)), OpCode::Dispatch),
            (resumed(None), OpCode::Dispatch),
            (dispatch("AT_MESSAGE_CREATE", Some(2), Some("x:2"), "{}"), OpCode::Dispatch),
        ];
        for (text, op) in frames {
            let env = Envelope::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(OpCode::from_u64(env.op), Some(op), "{text}");
        }
        assert_eq!(dispatch("X", None, None, "{}"), r#"{"op":0,"s":null,"t":"X","id":null,"d":{}}"#);
    }
}
