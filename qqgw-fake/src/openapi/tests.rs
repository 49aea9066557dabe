//! The table walk: every route has a handler and a doc line.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;

#[test]
fn every_route_of_the_table_has_a_handler_and_a_doc_line() {
    for &route in Route::ALL {
        assert!(!route.doc().is_empty(), "{route} has no doc line");
        let mut qq = OpenApi::new(ApiConfig::default());
        let params: Vec<String> = route.params().iter().map(|_| "X".to_owned()).collect();
        let path = route.path(&params).unwrap();
        let answer = qq.handle(Instant::ZERO, route.method().as_str(), &path, true, b"{}");
        assert!(!matches!(answer.status, 404 | 405 | 501), "{route}: {} {:?}", answer.status, answer.json());
        let call = &qq.calls()[0];
        assert_eq!(call.route, Some(route));
    }
}

#[test]
fn unknown_paths_wrong_methods_and_bad_tokens_are_refused() {
    let mut qq = OpenApi::new(ApiConfig::default());
    assert_eq!(qq.handle(Instant::ZERO, "GET", "/nowhere", true, b"").status, 404);
    assert_eq!(qq.handle(Instant::ZERO, "PATCH", "/v2/groups/G/messages", true, b"{}").status, 405);
    let refused = qq.handle(Instant::ZERO, "GET", "/users/@me", false, b"");
    assert_eq!((refused.status, refused.code()), (401, Some(11244)));
    assert!(refused.headers.iter().any(|(k, _)| *k == "X-Tps-trace-ID"));
}

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn send(qq: &mut OpenApi, now: Instant, path: &str, body: serde_json::Value) -> Answer {
    qq.handle(now, "POST", path, true, body.to_string().as_bytes())
}

#[test]
fn replies_follow_qq_2026_windows_and_counts() {
    let mut qq = OpenApi::new(ApiConfig::default());
    qq.dispatched("C2C_MESSAGE_CREATE", "E1", r#"{"id":"C","author":{"user_openid":"U"}}"#, at(0));
    qq.dispatched("GROUP_AT_MESSAGE_CREATE", "E2", r#"{"id":"G","group_openid":"GR"}"#, at(0));
    let reply =
        |id: &str, seq: u32| serde_json::json!({"msg_type": 0, "content": "x", "msg_id": id, "msg_seq": seq});
    for seq in 1..=4 {
        assert_eq!(send(&mut qq, at(59 * 60_000), "/v2/users/U/messages", reply("C", seq)).status, 200);
    }
    assert_eq!(send(&mut qq, at(60_000), "/v2/users/U/messages", reply("C", 5)).code(), Some(40034128));
    for seq in 1..=5 {
        assert_eq!(send(&mut qq, at(1000), "/v2/groups/GR/messages", reply("G", seq)).status, 200);
    }
    assert_eq!(send(&mut qq, at(1000), "/v2/groups/GR/messages", reply("G", 6)).code(), Some(40034128));
    qq.dispatched("GROUP_AT_MESSAGE_CREATE", "E3", r#"{"id":"G2","group_openid":"GR"}"#, at(0));
    assert_eq!(
        send(&mut qq, at(5 * 60_000 + 1), "/v2/groups/GR/messages", reply("G2", 1)).code(),
        Some(40034005)
    );
    // Active messages need the group's permission; markdown goes without content.
    let active = serde_json::json!({"msg_type": 0, "content": "hello"});
    assert_eq!(send(&mut qq, at(0), "/v2/groups/GR/messages", active).code(), Some(40034105));
    let both = serde_json::json!({"msg_type": 2, "content": "x", "markdown": {"content": "**x**"}, "msg_id": "E3", "msg_seq": 1});
    assert_eq!(send(&mut qq, at(0), "/v2/groups/GR/messages", both).code(), Some(50037));
}

#[test]
fn an_interaction_is_acked_once_within_its_deadline() {
    let mut qq = OpenApi::new(ApiConfig::default());
    qq.dispatched("INTERACTION_CREATE", "E1", r#"{"id":"I1"}"#, at(0));
    qq.dispatched("INTERACTION_CREATE", "E2", r#"{"id":"I2"}"#, at(0));
    let ack = |qq: &mut OpenApi, id: &str, ms| {
        qq.handle(at(ms), "PUT", &format!("/interactions/{id}"), true, br#"{"code":0}"#)
    };
    assert_eq!(ack(&mut qq, "I1", 2_900).status, 200);
    assert_eq!(ack(&mut qq, "I1", 2_950).code(), Some(630001));
    assert_eq!(ack(&mut qq, "I2", 3_100).code(), Some(630001));
    assert!(qq.acked("I1") && !qq.acked("I2"));
}

#[test]
fn streams_keep_their_prefix_and_end_once() {
    let mut qq = OpenApi::new(ApiConfig::default());
    qq.dispatched("C2C_MESSAGE_CREATE", "E1", r#"{"id":"C","author":{"user_openid":"U"}}"#, at(0));
    let chunk = |index: u32, text: &str, state: u8, id: Option<&str>| {
        let mut body = serde_json::json!({"input_mode": "replace", "input_state": state, "index": index,
            "content_type": "markdown", "content_raw": text, "msg_id": "C", "msg_seq": 1});
        if let Some(id) = id {
            body["stream_msg_id"] = serde_json::json!(id);
        }
        body
    };
    let first = send(&mut qq, at(0), "/v2/users/U/stream_messages", chunk(0, "Think", 1, None));
    let id = first.json()["id"].as_str().unwrap().to_owned();
    let path = "/v2/users/U/stream_messages";
    assert_eq!(send(&mut qq, at(1), path, chunk(1, "Thank", 1, Some(&id))).code(), Some(40007));
    assert_eq!(send(&mut qq, at(2), path, chunk(1, "Thinking.", 10, Some(&id))).status, 200);
    assert_eq!(send(&mut qq, at(3), path, chunk(2, "Thinking..", 1, Some(&id))).code(), Some(40034018));
    let stream = qq.stream(&id).unwrap();
    assert_eq!(
        (stream.text.as_str(), stream.ended, stream.indices.as_slice()),
        ("Thinking.", 1, &[0, 1][..])
    );
}
