//! Tests written to catch the mutants `cargo mutants` made of the machine, close-code,
//! backoff and pacing code that no other test noticed (see `fuzz/README.md`): each pins
//! down a documented behaviour that was not checked exactly before.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use qqgw_proto::CloseCode;

/// Every description in `CloseCode::description`'s table, and the formats that show it.
#[test]
fn close_code_descriptions_and_formats() {
    let table = [
        (1000, "normal closure"),
        (1001, "going away"),
        (1006, "connection dropped"),
        (1011, "transport closure"),
        (4000, "reconnecting"),
        (4001, "invalid opcode"),
        (4002, "invalid payload"),
        (4003, "unknown gateway code"),
        (4004, "authentication failed"),
        (4005, "unknown gateway code"),
        (4006, "session id invalid, cannot resume"),
        (4007, "invalid seq"),
        (4008, "payloads sent too fast"),
        (4009, "session timed out"),
        (4010, "invalid shard"),
        (4011, "too many guilds, shard the bot"),
        (4012, "invalid version"),
        (4013, "invalid intents"),
        (4014, "intents not permitted"),
        (4015, "unknown gateway code"),
        (4899, "unknown gateway code"),
        (4900, "internal error"),
        (4913, "internal error"),
        (4914, "bot taken offline, sandbox only"),
        (4915, "bot banned"),
        (4916, "unknown gateway code"),
        (4999, "unknown gateway code"),
        (5000, "transport closure"),
    ];
    for (code, description) in table {
        assert_eq!(CloseCode(code).description(), description, "{code}");
    }
    assert_eq!(format!("{:?}", CloseCode(4009)), "CloseCode(4009 session timed out)");
    assert_eq!(CloseCode(4009).to_string(), "4009");
    assert_eq!(CloseCode::from(4914), CloseCode::BOT_OFFLINE);
}
