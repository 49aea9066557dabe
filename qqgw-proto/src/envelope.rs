//! The frame envelope, parsed once and borrowed from the frame's text.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_json::value::RawValue;

use crate::error::DecodeError;

/// One frame as it arrived: `op`, `s`, `t`, `id` and the raw `d`, borrowed from the text.
///
/// Nothing is copied unless a string contains escapes; `d` is kept as raw JSON so that it
/// is parsed only when, and into what, it is needed. Unknown keys are ignored; every key
/// but `op` may be absent, and a `null` `d` reads as absent.
///
/// Internal: users get frames parsed into [`Dispatch`](crate::Dispatch)es and events. The
/// fuzz targets, their replay test and the frames bench reach it as `fuzzing::Envelope`.
#[allow(unreachable_pub)] // public only through the hidden `fuzzing` module
#[derive(Debug, Deserialize)]
#[non_exhaustive]
pub struct Envelope<'a> {
    /// The opcode, as sent (see [`OpCode`](crate::OpCode)).
    pub op: u64,
    /// The sequence number of a dispatch.
    #[serde(default)]
    pub s: Option<u64>,
    /// The event name of a dispatch.
    #[serde(default, borrow, deserialize_with = "maybe_borrowed")]
    pub t: Option<Cow<'a, str>>,
    /// The event id of a dispatch (`"<T>:<opaque>"`), used for passive replies.
    #[serde(default, borrow, deserialize_with = "maybe_borrowed")]
    pub id: Option<Cow<'a, str>>,
    /// The data, unparsed.
    #[serde(default, borrow)]
    pub d: Option<&'a RawValue>,
}

#[allow(unreachable_pub)] // public only through the hidden `fuzzing` module
impl<'a> Envelope<'a> {
    /// Parses a frame's text.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Json`] if the text is not a JSON object with a numeric `op` and, where
    /// present, an unsigned `s` and string `t` and `id`.
    pub fn parse(text: &'a str) -> Result<Self, DecodeError> {
        // serde's derive would also read the fields from an array (`[0,1,"READY",…]`).
        if !text.trim_start_matches([' ', '\t', '\n', '\r']).starts_with('{') {
            let e = <serde_json::Error as de::Error>::invalid_type(
                de::Unexpected::Other("not an object"),
                &"a JSON object",
            );
            return Err(DecodeError::json(&e, text));
        }
        serde_json::from_str(text).map_err(|e| DecodeError::json(&e, text))
    }
}

/// `Option<Cow<str>>` that borrows when the JSON string has no escapes.
fn maybe_borrowed<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or null")
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_owned())))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v)))
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_str(self)
        }
    }
    d.deserialize_option(V)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_field() {
        let frame =
            r#"{"op":0,"s":42,"t":"AT_MESSAGE_CREATE","id":"AT_MESSAGE_CREATE:1","d":{"content":"hi"}}"#;
        let env = Envelope::parse(frame).unwrap();
        assert_eq!((env.op, env.s, env.t.as_deref()), (0, Some(42), Some("AT_MESSAGE_CREATE")));
        assert_eq!(env.d.map(|d| d.get()), Some(r#"{"content":"hi"}"#));
    }

    #[test]
    fn borrows_plain_strings_and_owns_escaped_ones() {
        let env = Envelope::parse(r#"{"op":0,"t":"A\u0042C","id":"X:1","d":null}"#);
        let env = env.unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(env.t, Some(Cow::Owned(ref t)) if t == "ABC"));
        assert!(matches!(env.id, Some(Cow::Borrowed("X:1"))));
        assert!(env.d.is_none());
    }

    #[test]
    fn rejects_non_objects_and_missing_op() {
        for bad in ["", "[]", "null", r#"{"d":1}"#, r#"{"op":-1}"#, r#"{"op":0,"s":"1"}"#, "{\"op\":0"] {
            assert!(Envelope::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ignores_unknown_keys() {
        let env = Envelope::parse(r#"{"op":11,"extra":[1,2,{"x":null}]}"#);
        assert!(env.is_ok_and(|e| e.op == 11 && e.s.is_none()));
    }
}
