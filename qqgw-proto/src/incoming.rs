//! The payloads QQ sends that the machine reads beyond the envelope: HELLO's interval,
//! READY's session id, op 9's flag. The mirror of `outgoing.rs`.

use core::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;

/// The heartbeat interval used when HELLO does not give a usable one (QQ's documented value).
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_millis(45_000);
/// The shortest heartbeat interval the machine accepts from HELLO; shorter ones are raised.
pub const MIN_HEARTBEAT_INTERVAL: Duration = Duration::from_millis(50);
/// The longest heartbeat interval the machine accepts from HELLO; longer ones are lowered.
pub const MAX_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(600);

/// HELLO's `heartbeat_interval`, if it is there and not zero; the machine clamps it
/// between [`ConfigBuilder::min_heartbeat_interval`](crate::ConfigBuilder::min_heartbeat_interval)
/// and [`MAX_HEARTBEAT_INTERVAL`].
pub(crate) fn hello_interval(d: Option<&RawValue>) -> Option<Duration> {
    #[derive(Deserialize)]
    struct Hello {
        heartbeat_interval: u64,
    }
    let hello: Hello = serde_json::from_str(d?.get()).ok()?;
    (hello.heartbeat_interval > 0).then(|| Duration::from_millis(hello.heartbeat_interval))
}

/// READY's `session_id`: all the machine needs of READY.
pub(crate) fn ready_session_id(d: &RawValue) -> Option<String> {
    #[derive(Deserialize)]
    struct MinimalReady {
        session_id: String,
    }
    serde_json::from_str::<MinimalReady>(d.get()).ok().map(|ready| ready.session_id)
}

/// Whether op 9 allows a RESUME: only a `d` of exactly `true` does.
pub(crate) fn invalid_session_resumable(d: Option<&RawValue>) -> bool {
    d.is_some_and(|d| d.get() == "true")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap_or_else(|_| RawValue::NULL.to_owned())
    }

    #[test]
    fn hello_interval_is_read_or_refused() {
        assert_eq!(
            hello_interval(Some(&raw(r#"{"heartbeat_interval":41250}"#))),
            Some(Duration::from_millis(41_250))
        );
        assert_eq!(hello_interval(Some(&raw(r#"{"heartbeat_interval":0}"#))), None);
        assert_eq!(hello_interval(Some(&raw(r#"{"heartbeat_interval":"41250"}"#))), None);
        assert_eq!(hello_interval(Some(&raw("{}"))), None);
        assert_eq!(hello_interval(None), None);
    }

    #[test]
    fn ready_needs_only_a_session_id() {
        assert_eq!(ready_session_id(&raw(r#"{"session_id":"s-1","user":{}}"#)).as_deref(), Some("s-1"));
        assert_eq!(ready_session_id(&raw(r#"{"session_id":7}"#)), None);
        assert_eq!(ready_session_id(&raw("null")), None);
    }

    #[test]
    fn only_true_resumes() {
        assert!(invalid_session_resumable(Some(&raw("true"))));
        for d in ["false", "null", "1", r#""true""#] {
            assert!(!invalid_session_resumable(Some(&raw(d))), "{d}");
        }
        assert!(!invalid_session_resumable(None));
    }
}
