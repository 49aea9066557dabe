//! No `Debug` or `Display` of a public type shows a secret it holds: known secrets go in,
//! and the text that comes out is searched for them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use qqgw_proto::webhook::{Webhook, WebhookKey};
use qqgw_proto::{
    AccessToken, Config, Credentials, GatewayMachine, Input, Instant, Intents, Output, Session, ShardId,
};

const SECRET: &str = "SeCrEtAppSecret-0123456789";
const TOKEN: &str = "TOKEN-tk-9f8e7d6c5b4a";

fn assert_hidden(what: &str, text: &str) {
    for secret in [SECRET, TOKEN, "QQBot TOKEN", "SeCrEt", "9f8e7d6c"] {
        assert!(!text.contains(secret), "{what} shows {secret:?}: {text}");
    }
}

const HELLO: &str = r#"{"op":10,"d":{"heartbeat_interval":45000}}"#;

/// Drives a machine through connecting and HELLO; returns the `Debug` of every output.
fn outputs(session: Option<Session>) -> Vec<String> {
    let mut builder = Config::builder("wss://fake.invalid/", Intents::non_privileged());
    if let Some(session) = session {
        builder = builder.session(session);
    }
    let mut now = Instant::from_millis(0);
    let mut machine = GatewayMachine::new(builder.build().unwrap(), now);
    let mut seen = Vec::new();
    for _ in 0..20 {
        let output = machine.poll_output();
        seen.push(format!("{output:?}"));
        seen.push(format!("{output:#?}"));
        let input = match output {
            Output::RefreshToken => Input::Token(AccessToken::new(TOKEN, Instant::from_millis(7_200_000))),
            Output::Connect(_) => Input::Connected,
            Output::Pacer(qqgw_proto::PacerRequest::Acquire) => {
                Input::Pacer(qqgw_proto::PacerAnswer::Granted(qqgw_proto::IdentifySlot(0)))
            }
            Output::Send(_) | Output::Pacer(_) => continue,
            Output::Sleep(Some(at)) => {
                now = at;
                machine.handle_timeout(now);
                continue;
            }
            _ => break,
        };
        machine.handle_input(now, input).unwrap();
        if matches!(machine.state(), qqgw_proto::State::Connecting | qqgw_proto::State::AwaitingIdentifySlot)
        {
            continue;
        }
        machine.handle_input(now, Input::Text(HELLO)).unwrap();
    }
    seen
}

#[test]
fn identify_and_resume_outputs_are_printed_without_the_token() {
    for session in [None, Some(Session::new("session-1", 7, ShardId::ONE))] {
        let seen = outputs(session.clone());
        let sends: Vec<&String> = seen.iter().filter(|s| s.starts_with("Send")).collect();
        let op = if session.is_some() { r#"\"op\":6"# } else { r#"\"op\":2"# };
        assert!(sends.iter().any(|s| s.contains(op) && s.contains("<redacted>")), "{seen:#?}");
        for text in &seen {
            assert_hidden("Output", text);
        }
    }
}

#[test]
fn an_unparsable_frame_with_a_token_is_withheld() {
    // Only `Send` frames the machine made exist, but the redaction must not depend on that.
    let text = format!("{:?}", Output::Send(format!(r#"{{"op":2,"d":{{"token":"QQBot {TOKEN}""#)));
    assert_hidden("Output", &text);
    assert!(text.contains("withheld"), "{text}");
    // A token field without the `QQBot ` prefix, and the prefix without a `token` key.
    let bare = format!("{:?}", Output::Send(format!(r#"{{"op":6,"d":{{"token":"{TOKEN}"}}}}"#)));
    assert_hidden("Output", &bare);
    let prefixed = format!("{:?}", Output::Send(format!(r#"{{"op":6,"d":{{"auth":"QQBot {TOKEN}"}}}}"#)));
    assert_hidden("Output", &prefixed);
    let heartbeat = format!("{:?}", Output::Send(r#"{"op":1,"d":null}"#.into()));
    assert!(heartbeat.contains("op"), "frames without a token are shown: {heartbeat}");
}

#[test]
fn credentials_tokens_and_inputs_hide_their_secrets() {
    let credentials = Credentials::new("102012345", SECRET);
    let token = AccessToken::new(TOKEN, Instant::from_millis(0));
    let input = Input::Token(token.clone());
    for text in [
        format!("{credentials:?}"),
        format!("{credentials:#?}"),
        format!("{token:?}"),
        format!("{token:#?}"),
        format!("{input:?}"),
    ] {
        assert_hidden("credentials/token", &text);
    }
}

#[test]
fn webhook_keys_hide_the_secret_and_the_seed() {
    let key = WebhookKey::from_secret(SECRET).unwrap();
    let webhook = Webhook::new(key.clone()).allow_unsigned_validation(true);
    let seed_hex: String = SECRET.bytes().take(16).map(|b| format!("{b:02x}")).collect();
    for text in [format!("{key:?}"), format!("{key:#?}"), format!("{webhook:?}"), format!("{webhook:#?}")] {
        assert_hidden("webhook", &text);
        assert!(!text.contains(&seed_hex), "{text}");
    }
    let Err(error) = Webhook::from_secret("") else { panic!() };
    assert_hidden("EmptySecret", &format!("{error} {error:?}"));
}
