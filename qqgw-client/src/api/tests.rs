//! The retry rules of `Api::call` against a scripted link: what is repeated, how long it
//! waits, and what reaches the caller.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::sync::Mutex;

use proptest::prelude::*;
use qqgw_proto::openapi::{
    ErrorKind, GetGuild, GuildMessageBody, MessageBody, SendChannelMessage, SendGroupMessage,
};

use super::*;

/// A link answering from a script, recording what was sent and how long it slept.
#[derive(Default)]
struct Scripted {
    answers: Mutex<VecDeque<Result<Answer, String>>>,
    sent: Mutex<Vec<(String, String, Option<String>)>>,
    slept: Mutex<Vec<Duration>>,
    tokens: AtomicU32,
}

fn answer(status: u16, body: &str, retry_after: Option<u64>) -> Result<Answer, String> {
    Ok(Answer {
        status,
        body: body.as_bytes().to_vec(),
        trace_id: Some("trace-h".into()),
        retry_after: retry_after.map(Duration::from_secs),
    })
}

impl Link for Arc<Scripted> {
    fn token(&self, rejected: Option<Instant>) -> BoxFuture<'_, Result<(AccessToken, Instant), TokenError>> {
        let n = self.tokens.fetch_add(u32::from(rejected.is_some()), Ordering::Relaxed)
            + u32::from(rejected.is_some());
        Box::pin(async move {
            let token = qqgw_proto::parse_token_response(
                format!(r#"{{"access_token":"tok{n}","expires_in":"7200"}}"#).as_bytes(),
                Instant::ZERO,
            )?;
            Ok((token, Instant::ZERO))
        })
    }

    fn send(&self, wire: Wire) -> BoxFuture<'_, Result<Answer, String>> {
        self.sent.lock().unwrap().push((wire.method.to_owned(), wire.url, wire.authorization));
        let next = self.answers.lock().unwrap().pop_front().unwrap_or_else(|| answer(200, "{}", None));
        Box::pin(async move { next })
    }

    fn now(&self) -> Instant {
        Instant::ZERO
    }

    fn sleep_until(&self, at: Instant) -> BoxFuture<'_, ()> {
        self.slept.lock().unwrap().push(at.saturating_duration_since(Instant::ZERO));
        Box::pin(async {})
    }

    fn spawn(&self, task: BoxFuture<'static, ()>) {
        futures_util::FutureExt::now_or_never(task);
    }

    fn blocking(&self, f: Box<dyn FnOnce() + Send>) -> BoxFuture<'_, ()> {
        f();
        Box::pin(async {})
    }
}

fn scripted(script: Vec<Result<Answer, String>>) -> (Api, Arc<Scripted>) {
    let link = Arc::new(Scripted { answers: Mutex::new(script.into()), ..Scripted::default() });
    let api = Api {
        inner: Arc::new(Inner {
            link: Box::new(Arc::clone(&link)),
            api_base: "https://api.example".into(),
            seqs: Seqs::new(8),
            allow_insecure: false,
        }),
        retry: RetryPolicy::default(),
    };
    (api, link)
}

fn run<T>(future: impl Future<Output = T>) -> T {
    futures_util::FutureExt::now_or_never(future).expect("the scripted link never waits")
}

const RATE: &str = r#"{"err_code":22009,"message":"msg limit exceed","trace_id":"t-rate"}"#;
const SERVER: &str = r#"{"err_code":50055002,"message":"send error"}"#;

#[test]
fn a_rate_limit_waits_for_retry_after_then_backs_off() {
    let (api, link) =
        scripted(vec![answer(429, RATE, Some(2)), answer(429, RATE, None), answer(200, "{}", None)]);
    run(api.call(&GetGuild::new("G"))).unwrap();
    assert_eq!(*link.slept.lock().unwrap(), [Duration::from_secs(2), Duration::from_secs(1)]);
    assert_eq!(link.sent.lock().unwrap().len(), 3);
}

#[test]
fn a_retry_after_beyond_the_policy_ends_the_call() {
    let (api, link) = scripted(vec![answer(429, RATE, Some(3600))]);
    let error = run(api.call(&GetGuild::new("G"))).unwrap_err();
    assert_eq!(
        (error.kind(), error.code(), error.trace_id()),
        (Some(ErrorKind::Rate), Some(22009), Some("t-rate"))
    );
    assert!(link.slept.lock().unwrap().is_empty());
}

#[test]
fn rate_limits_are_retried_a_bounded_number_of_times() {
    let (api, link) = scripted((0..10).map(|_| answer(429, RATE, None)).collect());
    let error = run(api.call(&GetGuild::new("G"))).unwrap_err();
    assert_eq!(error.kind(), Some(ErrorKind::Rate));
    assert_eq!(link.sent.lock().unwrap().len(), 4, "one try and three retries");
}

#[test]
fn server_errors_and_lost_answers_are_repeated_only_when_repeatable() {
    // A GET is idempotent.
    let (api, link) = scripted(vec![answer(500, SERVER, None), Err("reset".into()), answer(200, "{}", None)]);
    run(api.call(&GetGuild::new("G"))).unwrap();
    assert_eq!(link.sent.lock().unwrap().len(), 3);
    // A guild message may have gone through: not repeated.
    let body = GuildMessageBody::text("x");
    let (api, link) = scripted(vec![answer(500, SERVER, None)]);
    let error = run(api.call(&SendChannelMessage::new("C", body.clone()))).unwrap_err();
    assert_eq!((error.kind(), link.sent.lock().unwrap().len()), (Some(ErrorKind::Transient), 1));
    let (api, link) = scripted(vec![Err("timed out".into())]);
    let error = run(api.call(&SendChannelMessage::new("C", body))).unwrap_err();
    assert!(matches!(error, CallError::Http { .. }), "{error}");
    assert_eq!(error.to_string(), "POST /channels/{channel_id}/messages: no answer: timed out");
    assert_eq!(link.sent.lock().unwrap().len(), 1);
    // A reply with its msg_seq is: QQ refuses a copy it took.
    let reply = MessageBody::text("x").reply_to("M").msg_seq(1);
    let (api, link) = scripted(vec![answer(502, SERVER, None), answer(200, r#"{"id":"ROBOT1.0_1"}"#, None)]);
    run(api.call(&SendGroupMessage::new("G", reply))).unwrap();
    assert_eq!(link.sent.lock().unwrap().len(), 2);
}

#[test]
fn a_refused_token_is_replaced_once() {
    let refused = r#"{"err_code":11244,"message":"token expired"}"#;
    let (api, link) = scripted(vec![answer(401, refused, None), answer(401, refused, None)]);
    let error = run(api.call(&GetGuild::new("G"))).unwrap_err();
    assert_eq!(error.kind(), Some(ErrorKind::Auth));
    let sent = link.sent.lock().unwrap();
    let tokens: Vec<_> = sent.iter().map(|s| s.2.clone().unwrap()).collect();
    assert_eq!(tokens, ["QQBot tok0", "QQBot tok1"]);
    assert!(!format!("{error} {error:?}").contains("tok1"), "no token in errors: {error:?}");
}

#[test]
fn refusals_that_would_repeat_are_not_retried() {
    for code in [40034128, 40054005, 40034105, 40034102, 11253, 304023] {
        let body =
            format!(r#"{{"err_code":{code},"message":"no","data":{{"message_audit":{{"audit_id":"A"}}}}}}"#);
        let (api, link) = scripted(vec![answer(400, &body, None)]);
        let error = run(api.call(&GetGuild::new("G"))).unwrap_err();
        assert_eq!(error.code(), Some(code));
        assert_eq!(link.sent.lock().unwrap().len(), 1, "{code} was retried");
    }
    let (api, _) = scripted(vec![answer(
        202,
        r#"{"code":304023,"message":"audit","data":{"message_audit":{"audit_id":"A"}}}"#,
        None,
    )]);
    let error = run(api.call(&GetGuild::new("G"))).unwrap_err();
    assert_eq!((error.kind(), error.audit_id()), (Some(ErrorKind::Audit), Some("A")));
}

#[test]
fn a_request_qq_would_refuse_is_not_sent() {
    let (api, link) = scripted(vec![]);
    let markdown = MessageBody::markdown(qqgw_proto::openapi::Markdown::text("x")).reply_to("M");
    let mut bad = markdown;
    bad.content = Some("text beside markdown".into());
    let error = run(api.call(&SendGroupMessage::new("G", bad))).unwrap_err();
    assert!(matches!(error, CallError::Request(_)), "{error}");
    assert!(link.sent.lock().unwrap().is_empty());
}

#[test]
fn seq_counters_are_bounded() {
    let seqs = Seqs::new(3);
    for key in ["a", "b", "c", "d", "e"] {
        assert_eq!(seqs.next(key), 1);
    }
    assert_eq!(seqs.len(), 3);
    assert_eq!(seqs.next("e"), 2);
}

proptest! {
    #[test]
    fn concurrent_replies_never_share_a_seq(threads in 2usize..8, per_thread in 1usize..40, keys in 1usize..4) {
        let seqs = Arc::new(Seqs::new(MSG_SEQ_CAPACITY));
        let handles: Vec<_> = (0..threads).map(|t| {
            let seqs = Arc::clone(&seqs);
            std::thread::spawn(move || {
                (0..per_thread).map(|i| {
                    let key = format!("m:{}", (t + i) % keys);
                    let seq = seqs.next(&key);
                    (key, seq)
                }).collect::<Vec<_>>()
            })
        }).collect();
        let mut seen = std::collections::HashSet::new();
        let mut total = 0;
        for handle in handles {
            for pair in handle.join().unwrap() {
                prop_assert!(seen.insert(pair.clone()), "msg_seq reused: {:?}", pair);
                total += 1;
            }
        }
        // Every key's numbers are 1..=n without gaps.
        for k in 0..keys {
            let key = format!("m:{k}");
            let n = seen.iter().filter(|(x, _)| *x == key).count();
            for s in 1..=n {
                prop_assert!(seen.contains(&(key.clone(), u32::try_from(s).unwrap())));
            }
        }
        prop_assert_eq!(total, threads * per_thread);
    }
}
