//! Webhook delivery: QQ's published key and signature vectors, the shared fixture frames
//! delivered as signed callbacks, and every way a request can be wrong.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::PathBuf;

use core::time::Duration;
use proptest::prelude::*;
use qqgw_proto::webhook::{
    ACK_BODY, Admission, Checked, DEFAULT_MAX_BODY_SIZE, Outcome, Webhook, WebhookError, WebhookKey,
    WebhookRequest, WebhookResponse, ack_body,
};
use qqgw_proto::{DecodeError, Dispatch, ShardId};
use serde_json::Value;

const SECRET: &str = "DG5g3B4j9X2KOErG";
const OTHER_SECRET: &str = "naOC0ocQE3shWLAfffVLB1rhYPG7";
const TS: &str = "1725442341";
const NOW: u64 = 1_725_442_341;
const VALIDATION_SIGNATURE: &str = "87befc99c42c651b3aac0278e71ada338433ae26fcb24307bdc5ad38c1adc2d01bcfcadc0842edac85e85205028a1132afe09280305f13aa6909ffc2d652c706";
const EVENT_BODY: &str = r#"{"op":0,"d":{},"t":"GATEWAY_EVENT_NAME"}"#;
const EVENT_SIGNATURE: &str = "8398d7f181f3304f5cd6793011d4eb4d7e718101012cde09e381cfa522edd901207b2d46e6e9cae2c15b3b5ff433388cb3ed175ae427d0c98066ba674bbb680f";

fn frames_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/frames"))
}

fn frame(name: &str) -> String {
    let path = frames_dir().join(format!("{name}.json"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn key() -> WebhookKey {
    WebhookKey::from_secret(SECRET).unwrap()
}

fn webhook() -> Webhook {
    Webhook::new(key())
}

/// A request signed by QQ (with `key`) at `timestamp`, received at `NOW`.
fn signed<'a>(signature: &'a str, timestamp: &'a str, body: &'a [u8]) -> WebhookRequest<'a> {
    WebhookRequest { signature: Some(signature), timestamp: Some(timestamp), body, unix_now: Some(NOW) }
}

/// Signs `body` at `TS` with the bot's key and hands it to `webhook`.
fn deliver(webhook: &mut Webhook, body: &[u8]) -> WebhookResponse {
    let signature = key().sign_callback(TS, body);
    webhook.handle(signed(&signature, TS, body))
}

fn rejection(response: &WebhookResponse) -> &WebhookError {
    match &response.outcome {
        Outcome::Rejected(error) => {
            assert_eq!(response.status, error.status());
            assert_eq!(response.body, error.body());
            let body: Value = serde_json::from_str(&response.body).unwrap();
            let expected = if response.status == 401 { "unauthorized" } else { error.code() };
            assert_eq!(body, serde_json::json!({ "error": expected }), "nothing but a code is sent");
            error
        }
        other => panic!("not rejected: {other:?} ({response:?})"),
    }
}

fn assert_rejected(response: &WebhookResponse, status: u16, check: impl FnOnce(&WebhookError) -> bool) {
    let error = rejection(response);
    assert_eq!(response.status, status, "{error}");
    assert!(check(error), "unexpected error {error:?}");
}

// ----- QQ's vectors -----

#[test]
fn keys_follow_the_published_vectors() {
    // The seed is the secret repeated to 32 bytes: a 32-byte secret is its own seed.
    let short = key();
    let as_seed = WebhookKey::from_secret("DG5g3B4j9X2KOErGDG5g3B4j9X2KOErG").unwrap();
    assert_eq!(short.public_key(), as_seed.public_key());
    assert_eq!(short.public_key_hex(), "8b28ded5630f9051c205dd04c6ec56ad0b08b8812b2fe30ee9aece0ab41926f3");

    let long = WebhookKey::from_secret(OTHER_SECRET).unwrap();
    let as_seed = WebhookKey::from_secret("naOC0ocQE3shWLAfffVLB1rhYPG7naOC").unwrap();
    assert_eq!(long.public_key(), as_seed.public_key());
    assert_eq!(long.public_key_hex(), "d7c362fe78aef81ff23287b493628b5db02a3c4fe30b215e4d19609b5d76673a");
    let credentials = qqgw_proto::Credentials::new("102012345", OTHER_SECRET);
    assert_eq!(WebhookKey::from_credentials(&credentials).unwrap().public_key(), long.public_key());
}

#[test]
fn signs_and_verifies_the_published_signatures() {
    let key = key();
    assert_eq!(key.sign_validation("Arq0D5A61EgUu4OxUvOp", TS), VALIDATION_SIGNATURE);
    assert_eq!(
        key.validation_body("Arq0D5A61EgUu4OxUvOp", TS),
        format!(r#"{{"plain_token":"Arq0D5A61EgUu4OxUvOp","signature":"{VALIDATION_SIGNATURE}"}}"#)
    );
    assert_eq!(key.verify(EVENT_SIGNATURE, TS, EVENT_BODY.as_bytes()), Ok(()));
    assert_eq!(key.verify(&EVENT_SIGNATURE.to_uppercase(), TS, EVENT_BODY.as_bytes()), Ok(()));
    assert_eq!(key.sign_callback(TS, EVENT_BODY.as_bytes()), EVENT_SIGNATURE);
}

#[test]
fn empty_secret_has_no_key() {
    assert!(WebhookKey::from_secret("").is_err());
    assert!(Webhook::from_secret("").is_err());
}

#[test]
fn debug_never_shows_the_secret_or_seed() {
    let webhook = webhook();
    for text in [format!("{webhook:?}"), format!("{:?}", webhook.key())] {
        assert!(!text.contains("DG5g") && !text.contains("4447356733"), "{text}");
        assert!(text.contains("8b28ded5"), "{text}");
    }
}

#[test]
fn ack_body_is_op_12() {
    let fixture: Value = serde_json::from_str(&frame("WEBHOOK_ACK")).unwrap();
    assert_eq!(serde_json::from_str::<Value>(ack_body()).unwrap(), fixture);
    assert_eq!(ACK_BODY, r#"{"op":12,"d":0}"#);
}

// ----- op 13 -----

#[test]
fn answers_the_validation_fixture() {
    let body = frame("WEBHOOK_VALIDATION");
    let expected =
        format!(r#"{{"plain_token":"Arq0D5A61EgUu4OxUvOp","signature":"{VALIDATION_SIGNATURE}"}}"#);

    // As QQ sends it: signed like every callback.
    let response = deliver(&mut webhook(), body.as_bytes());
    assert_eq!((response.status, &response.body), (200, &expected));
    assert_eq!(response.outcome, Outcome::Validated { plain_token: "Arq0D5A61EgUu4OxUvOp".into() });

    // As in QQ's docs' example, without signature headers: only when explicitly allowed.
    let mut webhook = webhook().allow_unsigned_validation(true);
    let response = webhook.handle(WebhookRequest { body: body.as_bytes(), ..Default::default() });
    assert_eq!((response.status, &response.body), (200, &expected));
}

#[test]
fn validation_accepts_a_millisecond_number_event_ts() {
    let body = br#"{"op":13,"d":{"plain_token":"abc","event_ts":1725442341000}}"#;
    let response = deliver(&mut webhook(), body);
    assert_eq!(response.status, 200);
    let answer: Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(answer["signature"], key().sign_validation("abc", "1725442341000"));
}

#[test]
fn unsigned_validation_is_refused_by_default() {
    let body = frame("WEBHOOK_VALIDATION");
    for mut webhook in [webhook(), webhook().allow_unsigned_validation(true).require_signed_validation(true)]
    {
        let response = webhook.handle(WebhookRequest { body: body.as_bytes(), ..Default::default() });
        assert_rejected(&response, 401, |e| *e == WebhookError::MissingSignature);
        assert_eq!(
            webhook.check_headers(None, None, Some(body.len() as u64), Some(NOW)),
            Err(WebhookError::MissingSignature),
            "refused before the body is read"
        );
    }
    let allowed = webhook().allow_unsigned_validation(true);
    assert_eq!(allowed.check_headers(None, None, Some(body.len() as u64), Some(NOW)), Ok(()));
}

#[test]
fn unsigned_validation_is_no_signing_oracle() {
    // An attacker asks for event_ts ‖ plain_token = timestamp ‖ forged body…
    let forged = r#"{"op":0,"id":"X:1","t":"AT_MESSAGE_CREATE","d":{"content":"forged"}}"#;
    let body = serde_json::json!({"op": 13, "d": {"plain_token": forged, "event_ts": TS}}).to_string();
    let mut webhook = webhook().allow_unsigned_validation(true);
    let response = webhook.handle(WebhookRequest { body: body.as_bytes(), ..Default::default() });
    assert_rejected(&response, 401, |e| *e == WebhookError::UnsafeValidation);

    // …which would otherwise be accepted as the signature of a forged event.
    let stolen = key().sign_validation(forged, TS);
    assert_eq!(stolen, key().sign_callback(TS, forged.as_bytes()));
    assert!(matches!(webhook.handle(signed(&stolen, TS, forged.as_bytes())).outcome, Outcome::Dispatch(_)));

    // Non-digit event_ts, empty or overlong tokens are refused unsigned too.
    for (token, ts) in [("abc", "17254x"), ("", TS), (&*"a".repeat(129), TS), ("a b", TS), ("abc", "")] {
        let body = serde_json::json!({"op": 13, "d": {"plain_token": token, "event_ts": ts}}).to_string();
        let response = webhook.handle(WebhookRequest { body: body.as_bytes(), ..Default::default() });
        assert_rejected(&response, 401, |e| *e == WebhookError::UnsafeValidation);
    }

    // Signed by QQ, the same request is answered.
    let response = deliver(&mut webhook, body.as_bytes());
    assert_eq!(response.status, 200);
    assert_eq!(response.outcome, Outcome::Validated { plain_token: forged.into() });
}

#[test]
fn signed_validation_with_a_bad_signature_is_rejected() {
    let body = frame("WEBHOOK_VALIDATION");
    let signature = WebhookKey::from_secret(OTHER_SECRET).unwrap().sign_callback(TS, body.as_bytes());
    let response = webhook().handle(signed(&signature, TS, body.as_bytes()));
    assert_rejected(&response, 401, |e| *e == WebhookError::BadSignature);
}

#[test]
fn malformed_validations_are_rejected() {
    for body in [
        r#"{"op":13}"#,
        r#"{"op":13,"d":{"event_ts":"1"}}"#,
        r#"{"op":13,"d":{"plain_token":"a"}}"#,
        r#"{"op":13,"d":{"plain_token":1,"event_ts":"1"}}"#,
        r#"{"op":13,"d":{"plain_token":"a","event_ts":[1]}}"#,
        r#"{"op":13,"d":{"plain_token":"a","event_ts":-1}}"#,
        r#"{"op":13,"d":"x"}"#,
    ] {
        let response = deliver(&mut webhook(), body.as_bytes());
        assert_rejected(&response, 400, |e| matches!(e, WebhookError::Malformed(DecodeError::Json { .. })));
    }
}

// ----- op 0 -----

const EVENTS: [&str; 13] = [
    "AT_MESSAGE_CREATE",
    "C2C_MESSAGE_CREATE",
    "DIRECT_MESSAGE_CREATE",
    "GROUP_ADD_ROBOT",
    "GROUP_AT_MESSAGE_CREATE",
    "GUILD_CREATE",
    "GUILD_MEMBER_ADD",
    "INTERACTION_CREATE",
    "MESSAGE_CREATE",
    "MESSAGE_REACTION_ADD",
    "UNKNOWN_FUTURE_EVENT",
    "READY",
    "RESUMED",
];

#[test]
fn events_become_the_gateways_dispatches_once() {
    let mut webhook = webhook();
    for name in EVENTS {
        let text = frame(name);
        let expected = Dispatch::from_frame(&text, ShardId::ONE).unwrap();
        let response = deliver(&mut webhook, text.as_bytes());
        assert_eq!((response.status, response.body.as_str()), (200, ACK_BODY), "{name}");
        let Outcome::Dispatch(dispatch) = response.outcome else { panic!("{name}: {response:?}") };
        assert_eq!(dispatch, expected, "{name}");
        assert_eq!(
            (dispatch.name(), dispatch.seq(), dispatch.id(), dispatch.data().get()),
            (expected.name(), expected.seq(), expected.id(), expected.data().get())
        );

        // QQ retries: 200 with the ACK, but the event is not delivered again.
        let again = deliver(&mut webhook, text.as_bytes());
        assert_eq!((again.status, again.body.as_str()), (200, ACK_BODY), "{name}");
        match expected.id() {
            Some(id) => assert_eq!(again.outcome, Outcome::Duplicate { id: id.to_owned() }, "{name}"),
            // Without an id, the exact same request (same signature) is still a repeat.
            None => assert_eq!(again.outcome, Outcome::Duplicate { id: String::new() }, "{name}"),
        }
    }
}

#[test]
fn a_retry_with_a_new_timestamp_and_signature_is_still_a_duplicate() {
    let mut webhook = webhook();
    let body = frame("C2C_MESSAGE_CREATE");
    assert!(matches!(deliver(&mut webhook, body.as_bytes()).outcome, Outcome::Dispatch(_)));
    let later = (NOW + 30).to_string();
    let signature = key().sign_callback(&later, body.as_bytes());
    let request = WebhookRequest { unix_now: Some(NOW + 31), ..signed(&signature, &later, body.as_bytes()) };
    let response = webhook.handle(request);
    assert!(matches!(response.outcome, Outcome::Duplicate { .. }) && response.status == 200);
}

#[test]
fn events_without_seq_like_real_callbacks_are_delivered() {
    let body =
        br#"{"op":0,"id":"GROUP_AT_MESSAGE_CREATE:abc","t":"GROUP_AT_MESSAGE_CREATE","d":{"content":"hi"}}"#;
    let response = deliver(&mut webhook(), body);
    let Outcome::Dispatch(dispatch) = response.outcome else { panic!("{response:?}") };
    assert_eq!((dispatch.seq(), dispatch.id()), (None, Some("GROUP_AT_MESSAGE_CREATE:abc")));
}

#[test]
fn dispatches_carry_the_configured_shard() {
    let shard = ShardId::new(2, 4).unwrap();
    let mut webhook = webhook().with_shard(shard);
    let response = deliver(&mut webhook, EVENT_BODY.as_bytes());
    assert!(matches!(response.outcome, Outcome::Dispatch(d) if d.shard() == shard));
}

#[test]
fn incomplete_events_are_malformed() {
    let response = deliver(&mut webhook(), br#"{"op":0,"d":{}}"#);
    assert_rejected(&response, 400, |e| {
        matches!(e, WebhookError::Malformed(DecodeError::DispatchWithoutName { .. }))
    });
    let response = deliver(&mut webhook(), br#"{"op":0,"t":"X"}"#);
    assert_rejected(&response, 400, |e| {
        matches!(e, WebhookError::Malformed(DecodeError::DispatchWithoutData { .. }))
    });
}

// ----- rejections -----

#[test]
fn tampered_requests_are_rejected() {
    let mut webhook = webhook();
    let body = frame("AT_MESSAGE_CREATE");
    let signature = key().sign_callback(TS, body.as_bytes());

    let tampered = body.replace("\"s\": 42", "\"s\": 43");
    assert_ne!(tampered, body);
    let response = webhook.handle(signed(&signature, TS, tampered.as_bytes()));
    assert_rejected(&response, 401, |e| *e == WebhookError::BadSignature);

    // A timestamp one second off, still fresh.
    let response = webhook.handle(signed(&signature, "1725442342", body.as_bytes()));
    assert_rejected(&response, 401, |e| *e == WebhookError::BadSignature);

    // Signed with another bot's key.
    let other = WebhookKey::from_secret(OTHER_SECRET).unwrap().sign_callback(TS, body.as_bytes());
    let response = webhook.handle(signed(&other, TS, body.as_bytes()));
    assert_rejected(&response, 401, |e| *e == WebhookError::BadSignature);

    // A different valid signature (a flipped bit in R).
    let mut flipped = signature.clone().into_bytes();
    flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).unwrap();
    let response = webhook.handle(signed(&flipped, TS, body.as_bytes()));
    assert_rejected(&response, 401, |e| *e == WebhookError::BadSignature);

    // The untouched request still passes, once.
    assert!(matches!(webhook.handle(signed(&signature, TS, body.as_bytes())).outcome, Outcome::Dispatch(_)));
}

#[test]
fn badly_encoded_signatures_are_rejected() {
    let body = EVENT_BODY.as_bytes();
    let non_hex = format!("{}zz", &EVENT_SIGNATURE[..126]);
    let multibyte = format!("{}é", &EVENT_SIGNATURE[..126]);
    for signature in [
        "",
        &EVENT_SIGNATURE[..126],
        &format!("{EVENT_SIGNATURE}00"),
        &non_hex,
        &multibyte,
        &format!(" {}", &EVENT_SIGNATURE[..127]),
    ] {
        let response = webhook().handle(signed(signature, TS, body));
        assert_rejected(&response, 401, |e| *e == WebhookError::BadSignatureEncoding);
    }
}

#[test]
fn signatures_with_high_bits_in_the_last_byte_are_rejected() {
    // S + ℓ would verify with a lax verifier; the top three bits of byte 63 rule it out.
    let body = EVENT_BODY.as_bytes();
    for last in ["2f", "4f", "8f", "ff"] {
        let signature = format!("{}{last}", &EVENT_SIGNATURE[..126]);
        let response = webhook().handle(signed(&signature, TS, body));
        assert_rejected(&response, 401, |e| *e == WebhookError::NonCanonicalSignature);
    }
}

#[test]
fn missing_headers_are_rejected() {
    let body = EVENT_BODY.as_bytes();
    let no_signature = WebhookRequest { timestamp: Some(TS), body, unix_now: Some(NOW), signature: None };
    assert_rejected(&webhook().handle(no_signature), 401, |e| *e == WebhookError::MissingSignature);
    let nothing = WebhookRequest { body, ..Default::default() };
    assert_rejected(&webhook().handle(nothing), 401, |e| *e == WebhookError::MissingSignature);
    let no_timestamp = WebhookRequest { signature: Some(EVENT_SIGNATURE), body, ..Default::default() };
    assert_rejected(&webhook().handle(no_timestamp), 401, |e| *e == WebhookError::MissingTimestamp);
}

#[test]
fn stale_and_future_timestamps_are_rejected() {
    let body = EVENT_BODY.as_bytes();
    let mut webhook = webhook();
    for now in [NOW + 301, NOW - 301, 0, u64::MAX] {
        let request = WebhookRequest { unix_now: Some(now), ..signed(EVENT_SIGNATURE, TS, body) };
        assert_rejected(&webhook.handle(request), 401, |e| {
            *e == WebhookError::StaleTimestamp { timestamp: NOW, now, tolerance_secs: 300 }
        });
    }
    // At the edge of the window it is still fresh.
    for now in [NOW + 300, NOW - 300] {
        let request = WebhookRequest { unix_now: Some(now), ..signed(EVENT_SIGNATURE, TS, body) };
        let response = Webhook::new(key()).handle(request);
        assert_eq!(response.status, 200, "{response:?}");
    }
    // A tighter window, and no window at all.
    let mut tight = Webhook::new(key()).with_timestamp_tolerance(Duration::from_secs(5));
    let request = WebhookRequest { unix_now: Some(NOW + 6), ..signed(EVENT_SIGNATURE, TS, body) };
    assert_rejected(&tight.handle(request), 401, |e| matches!(e, WebhookError::StaleTimestamp { .. }));
    let request = WebhookRequest { unix_now: None, ..signed(EVENT_SIGNATURE, TS, body) };
    assert_eq!(webhook.handle(request).status, 200);
}

#[test]
fn timestamps_that_are_not_unix_seconds_are_rejected() {
    let body = EVENT_BODY.as_bytes();
    for timestamp in
        ["", "-1", "1725442341.5", " 1725442341", "0x10", "99999999999999999999", &"1".repeat(21)]
    {
        let signature = key().sign_callback(timestamp, body);
        let response = webhook().handle(signed(&signature, timestamp, body));
        assert_rejected(&response, 401, |e| matches!(e, WebhookError::BadTimestamp { .. }));
    }
}

#[test]
fn oversized_bodies_are_rejected_unread() {
    let big = vec![b' '; DEFAULT_MAX_BODY_SIZE + 1];
    // Not even the signature is looked at.
    let response = webhook().handle(WebhookRequest { body: &big, ..Default::default() });
    assert_rejected(&response, 413, |e| {
        *e == WebhookError::BodyTooLarge { len: DEFAULT_MAX_BODY_SIZE + 1, max: DEFAULT_MAX_BODY_SIZE }
    });
    let response = deliver(&mut webhook(), &big);
    assert_rejected(&response, 413, |e| matches!(e, WebhookError::BodyTooLarge { .. }));

    // A smaller limit; a body exactly at the limit passes.
    let body = EVENT_BODY.as_bytes();
    let response = deliver(&mut webhook().with_max_body_size(body.len() - 1), body);
    assert_rejected(&response, 413, |e| matches!(e, WebhookError::BodyTooLarge { .. }));
    assert_eq!(deliver(&mut webhook().with_max_body_size(body.len()), body).status, 200);
}

#[test]
fn signed_garbage_is_malformed() {
    for body in [&b""[..], b"not json", b"[]", b"null", b"{\"op\":0", b"{\"d\":{}}", b"{\"op\":\"0\"}"] {
        let response = deliver(&mut webhook(), body);
        assert_rejected(&response, 400, |e| matches!(e, WebhookError::Malformed(DecodeError::Json { .. })));
    }
    let response = deliver(&mut webhook(), b"{\"op\":0,\xff}");
    assert_rejected(&response, 400, |e| *e == WebhookError::Malformed(DecodeError::Binary { len: 10 }));
}

#[test]
fn unsigned_garbage_reveals_nothing_but_the_missing_signature() {
    for body in
        [&b"not json"[..], b"\xff\xfe", frame("AT_MESSAGE_CREATE").as_bytes(), br#"{"op":1,"d":null}"#]
    {
        let response = webhook().handle(WebhookRequest { body, ..Default::default() });
        assert_rejected(&response, 401, |e| *e == WebhookError::MissingSignature);
    }
}

#[test]
fn other_opcodes_are_rejected() {
    for (body, op) in [
        (frame("HEARTBEAT"), 1),
        (frame("WEBHOOK_ACK"), 12),
        (frame("HELLO"), 10),
        (frame("HEARTBEAT_ACK"), 11),
        (r#"{"op":99}"#.to_owned(), 99),
    ] {
        let response = deliver(&mut webhook(), body.as_bytes());
        assert_rejected(&response, 400, |e| *e == WebhookError::UnexpectedOpcode { op });
    }
}

// ----- headers -----

#[test]
fn headers_are_found_in_any_case_and_the_first_one_counts() {
    let body = EVENT_BODY.as_bytes();
    let headers = [
        ("user-agent", "QQBot-Callback"),
        ("X-SIGNATURE-TIMESTAMP", TS),
        ("x-Signature-Ed25519", EVENT_SIGNATURE),
        ("X-Signature-Ed25519", "00"),
        ("X-Signature-Timestamp", "1"),
    ];
    let request = WebhookRequest::from_headers(headers, body, Some(NOW));
    assert_eq!(request, signed(EVENT_SIGNATURE, TS, body));
    assert_eq!(webhook().handle(request).status, 200);

    let request = WebhookRequest::from_headers([("X-Signature-Method", "Ed25519")], body, None);
    assert_eq!((request.signature, request.timestamp, request.unix_now), (None, None, None));
}

// ----- never panics -----

fn header_value() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some(TS.to_owned())),
        Just(Some(EVENT_SIGNATURE.to_owned())),
        "[0-9a-fA-F]{0,130}".prop_map(Some),
        any::<String>().prop_map(Some),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        any::<String>().prop_map(String::into_bytes),
        Just(EVENT_BODY.as_bytes().to_vec()),
        Just(frame("WEBHOOK_VALIDATION").into_bytes()),
        (any::<String>(), any::<String>()).prop_map(|(token, ts)| {
            serde_json::json!({"op": 13, "d": {"plain_token": token, "event_ts": ts}})
                .to_string()
                .into_bytes()
        }),
        (0u64..20, any::<String>(), any::<Option<String>>()).prop_map(|(op, t, id)| {
            serde_json::json!({"op": op, "t": t, "id": id, "d": {}}).to_string().into_bytes()
        }),
    ]
}

proptest! {
    // Each case signs and verifies, which is slow in debug builds.
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn arbitrary_requests_get_a_clear_answer(
        signature in header_value(),
        timestamp in header_value(),
        body in body(),
        unix_now in any::<Option<u64>>(),
        sign in any::<bool>(),
    ) {
        let mut webhook = webhook().with_max_body_size(200);
        // Half of the time QQ really signed the (arbitrary) timestamp and body.
        let real = timestamp.as_deref().map(|ts| key().sign_callback(ts, &body));
        let signature = if sign { real } else { signature };
        let request = WebhookRequest {
            signature: signature.as_deref(),
            timestamp: timestamp.as_deref(),
            body: &body,
            unix_now,
        };
        let response = webhook.handle(request);
        let parsed: Value = serde_json::from_str(&response.body).unwrap();
        prop_assert!(parsed.is_object());
        match &response.outcome {
            Outcome::Rejected(error) => {
                prop_assert_eq!(response.status, error.status());
                prop_assert!([400, 401, 413].contains(&response.status));
            }
            Outcome::Validated { .. } => prop_assert_eq!(response.status, 200),
            Outcome::Dispatch(_) | Outcome::Duplicate { .. } => {
                prop_assert_eq!((response.status, response.body.as_str()), (200, ACK_BODY));
                prop_assert!(signature.is_some());
            }
            _ => prop_assert!(false, "unknown outcome {:?}", response.outcome),
        }
    }

    #[test]
    fn any_change_to_a_signed_body_is_caught(index in any::<prop::sample::Index>(), bit in 0u8..8) {
        let mut body = frame("MESSAGE_REACTION_ADD").into_bytes();
        let signature = key().sign_callback(TS, &body);
        let at = index.index(body.len());
        body[at] ^= 1 << bit;
        let response = webhook().handle(signed(&signature, TS, &body));
        prop_assert_eq!(response.status, 401);
        prop_assert!(matches!(response.outcome, Outcome::Rejected(WebhookError::BadSignature)));
    }
}

// ----- replays, and what an answer discloses -----

#[test]
fn a_captured_request_is_refused_after_any_number_of_other_events() {
    let mut webhook = webhook();
    let captured = frame("GROUP_AT_MESSAGE_CREATE");
    let signature = key().sign_callback(TS, captured.as_bytes());
    assert!(matches!(
        webhook.handle(signed(&signature, TS, captured.as_bytes())).outcome,
        Outcome::Dispatch(_)
    ));
    // Far more events than the gateway's 1024-id window.
    for i in 0..3000 {
        let body = format!(r#"{{"op":0,"id":"E:{i}","t":"E","d":{{}}}}"#);
        assert!(matches!(deliver(&mut webhook, body.as_bytes()).outcome, Outcome::Dispatch(_)), "{i}");
    }
    // Replayed at the last second of the window: still not delivered again.
    let request = WebhookRequest { unix_now: Some(NOW + 300), ..signed(&signature, TS, captured.as_bytes()) };
    let response = webhook.handle(request);
    assert!(matches!(response.outcome, Outcome::Duplicate { .. }), "{response:?}");
    // One second later it is stale.
    let request = WebhookRequest { unix_now: Some(NOW + 301), ..signed(&signature, TS, captured.as_bytes()) };
    assert_rejected(&webhook.handle(request), 401, |e| matches!(e, WebhookError::StaleTimestamp { .. }));
}

#[test]
fn check_and_a_shared_guard_do_what_handle_does() {
    let webhook = webhook();
    let mut guard = webhook.replay_guard();
    let body = frame("C2C_MESSAGE_CREATE");
    let signature = key().sign_callback(TS, body.as_bytes());
    let check = || match webhook.check(signed(&signature, TS, body.as_bytes())) {
        Checked::Event(event) => event,
        Checked::Answer(response) => panic!("{response:?}"),
    };
    let first = check().admit(&mut guard);
    assert!(matches!(first.outcome, Outcome::Dispatch(_)) && first.body == ACK_BODY);
    // A queue that could not take it: forget it, and QQ's retry is delivered.
    guard.forget(&check().ticket);
    assert_eq!(guard.admit(&check().ticket), Admission::New);
    assert_eq!(guard.admit(&check().ticket), Admission::Duplicate);
    // A rejection needs no guard.
    let Checked::Answer(response) = webhook.check(signed(&signature, TS, b"{}")) else { panic!() };
    assert_rejected(&response, 401, |e| *e == WebhookError::BadSignature);
}

#[test]
fn a_full_replay_memory_refuses_what_it_forgot() {
    let mut webhook = webhook().with_replay_memory(2);
    let body = |i: u32| format!(r#"{{"op":0,"id":"E:{i}","t":"E","d":{{}}}}"#);
    let at = |i: u32, ts: &str| {
        let body = body(i);
        let signature = key().sign_callback(ts, body.as_bytes());
        (signature, body)
    };
    let mut send = |i: u32, ts: &str| {
        let (signature, body) = at(i, ts);
        webhook.handle(signed(&signature, ts, body.as_bytes()))
    };
    assert_eq!(send(1, "1725442340").status, 200);
    assert_eq!(send(2, "1725442341").status, 200);
    assert_eq!(send(3, "1725442342").status, 200);
    // E:1 was forgotten while it could still be replayed: its age is refused now.
    assert_rejected(&send(1, "1725442340"), 401, |e| *e == WebhookError::ReplayUnverifiable);
    assert!(matches!(send(2, "1725442341").outcome, Outcome::Duplicate { .. }));
}

#[test]
fn header_checks_refuse_before_the_body() {
    let webhook = webhook();
    let sig = Some(EVENT_SIGNATURE);
    assert_eq!(webhook.check_headers(sig, Some(TS), Some(100), Some(NOW)), Ok(()));
    assert_eq!(webhook.check_headers(sig, Some(TS), None, None), Ok(()));
    let cases = [
        (sig, Some(TS), Some(DEFAULT_MAX_BODY_SIZE as u64 + 1), Some(NOW), "body_too_large"),
        (sig, Some(TS), Some(u64::MAX), Some(NOW), "body_too_large"),
        (None, Some(TS), None, Some(NOW), "missing_signature"),
        (sig, None, None, Some(NOW), "missing_timestamp"),
        (sig, Some("12x"), None, Some(NOW), "bad_timestamp"),
        (sig, Some(TS), None, Some(NOW + 301), "stale_timestamp"),
        (Some("abc"), Some(TS), None, Some(NOW), "bad_signature_encoding"),
    ];
    for (signature, timestamp, length, now, code) in cases {
        let error = webhook.check_headers(signature, timestamp, length, now).unwrap_err();
        assert_eq!(error.code(), code);
    }
    let high = format!("{}ff", &EVENT_SIGNATURE[..126]);
    let error = webhook.check_headers(Some(&high), Some(TS), None, Some(NOW)).unwrap_err();
    assert_eq!(error, WebhookError::NonCanonicalSignature);
}

#[test]
fn refusals_disclose_neither_the_reason_nor_the_clock() {
    let body = EVENT_BODY.as_bytes();
    let now = NOW + 12_345;
    let stale = webhook().handle(WebhookRequest { unix_now: Some(now), ..signed(EVENT_SIGNATURE, TS, body) });
    let forged = webhook().handle(signed(&EVENT_SIGNATURE.replace('8', "9"), TS, body));
    let unsigned = webhook().handle(WebhookRequest { body, ..Default::default() });
    for response in [&stale, &forged, &unsigned] {
        assert_eq!((response.status, response.body.as_str()), (401, r#"{"error":"unauthorized"}"#));
    }
    assert!(!stale.body.contains(&now.to_string()));
    // The reason is kept for the server's own logs.
    assert!(matches!(stale.outcome, Outcome::Rejected(WebhookError::StaleTimestamp { .. })));
}
