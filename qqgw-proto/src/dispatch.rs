//! A dispatched event: name, sequence, id, shard and the data as received.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::envelope::Envelope;
use crate::error::DecodeError;
use crate::model::EventKind;
use crate::opcode::OpCode;
use crate::shard::ShardId;

/// One op 0 frame: an event as QQ sent it, with its data left as raw JSON.
///
/// Every dispatch the gateway sends is emitted as one of these, READY and RESUMED
/// included, and event names qqgw does not know are emitted like any other. The data is
/// parsed only when asked for: [`parse`](Self::parse) into any serde type, or into the
/// typed models of [`crate::model`].
///
/// # Examples
///
/// ```
/// use qqgw_proto::{Dispatch, ShardId};
///
/// let frame = r#"{"op":0,"s":50,"t":"GROUP_ADD_ROBOT","id":"GROUP_ADD_ROBOT:31b4","d":{"group_openid":"CFFD","timestamp":1699240248}}"#;
/// let dispatch = Dispatch::from_frame(frame, ShardId::ONE).unwrap();
/// assert_eq!(dispatch.name(), "GROUP_ADD_ROBOT");
/// assert_eq!(dispatch.seq(), Some(50));
/// assert_eq!(dispatch.id(), Some("GROUP_ADD_ROBOT:31b4"));
///
/// #[derive(serde::Deserialize)]
/// struct Added<'a> { group_openid: &'a str, timestamp: u64 }
/// let added: Added<'_> = dispatch.parse().unwrap();
/// assert_eq!((added.group_openid, added.timestamp), ("CFFD", 1699240248));
/// ```
#[derive(Clone)]
pub struct Dispatch {
    seq: Option<u64>,
    /// Known event names point into the static name table: one allocation fewer.
    name: Cow<'static, str>,
    id: Option<Box<str>>,
    shard: ShardId,
    data: Box<RawValue>,
    /// The receipt the machine asks back once the event is handled.
    ack: Option<Ack>,
}

impl Dispatch {
    /// A dispatch from its parts, for tests and for other delivery paths (webhooks).
    #[must_use]
    pub fn new(
        name: impl Into<Box<str>>,
        seq: Option<u64>,
        id: Option<Box<str>>,
        shard: ShardId,
        data: Box<RawValue>,
    ) -> Self {
        Self { seq, name: Cow::Owned(name.into().into_string()), id, shard, data, ack: None }
    }

    /// Parses one op 0 frame.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] if the text is not a JSON envelope, not op 0, or lacks `t` or `d`.
    pub fn from_frame(text: &str, shard: ShardId) -> Result<Self, DecodeError> {
        let env = Envelope::parse(text)?;
        if OpCode::from_u64(env.op) != Some(OpCode::Dispatch) {
            return Err(DecodeError::UnexpectedOpcode { op: env.op });
        }
        Self::from_envelope(&env, shard)
    }

    /// Builds the dispatch of an op 0 envelope (the one copy of `t`, `id` and `d`).
    pub(crate) fn from_envelope(env: &Envelope<'_>, shard: ShardId) -> Result<Self, DecodeError> {
        let Some(name) = env.t.as_deref() else {
            return Err(DecodeError::DispatchWithoutName { seq: env.s });
        };
        let Some(data) = env.d else {
            return Err(DecodeError::DispatchWithoutData { name: name.to_owned(), seq: env.s });
        };
        Ok(Self {
            seq: env.s,
            name: EventKind::static_name(name).map_or_else(|| Cow::Owned(name.to_owned()), Cow::Borrowed),
            id: env.id.as_deref().map(Into::into),
            shard,
            data: data.to_owned(),
            ack: None,
        })
    }

    /// The sequence number `s`, if the frame carried one.
    #[must_use]
    pub fn seq(&self) -> Option<u64> {
        self.seq
    }

    /// The event name `t`, e.g. `"AT_MESSAGE_CREATE"`.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The event id (`"<T>:<opaque>"`), which passive replies quote, if the frame carried one.
    #[must_use]
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The receipt to hand back with [`Input::Handled`](crate::Input::Handled) once the
    /// event is handled, when the machine tracks handled events
    /// ([`ConfigBuilder::manual_ack`](crate::ConfigBuilder::manual_ack)) and the event
    /// moved the session's sequence number. `None` otherwise: nothing to acknowledge.
    #[must_use]
    pub fn ack(&self) -> Option<Ack> {
        self.ack
    }

    pub(crate) fn set_ack(&mut self, ack: Ack) {
        self.ack = Some(ack);
    }

    /// The shard the event arrived on.
    #[must_use]
    pub fn shard(&self) -> ShardId {
        self.shard
    }

    /// The data `d`, exactly as received.
    #[must_use]
    pub fn data(&self) -> &RawValue {
        &self.data
    }

    /// Takes the data `d` out.
    #[must_use]
    pub fn into_data(self) -> Box<RawValue> {
        self.data
    }

    /// Parses the data into `T`, borrowing from it where `T` allows.
    ///
    /// # Errors
    ///
    /// serde_json's error if `d` does not fit `T`.
    pub fn parse<'a, T: Deserialize<'a>>(&'a self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.data.get())
    }

    /// The session a READY starts, read as the machine reads it; `None` for any other
    /// event, or a READY without a usable `session_id`.
    ///
    /// ```
    /// use qqgw_proto::{Dispatch, ShardId};
    ///
    /// let ready = Dispatch::from_frame(r#"{"op":0,"s":1,"t":"READY","d":{"session_id":"s-1"}}"#, ShardId::ONE).unwrap();
    /// assert_eq!(ready.ready_session_id().as_deref(), Some("s-1"));
    /// ```
    #[must_use]
    pub fn ready_session_id(&self) -> Option<String> {
        (self.name == "READY").then(|| crate::incoming::ready_session_id(&self.data)).flatten()
    }
}

/// A receipt for one delivered event: hand it back with
/// [`Input::Handled`](crate::Input::Handled) once the application has finished with the
/// event. Taken from [`Dispatch::ack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ack {
    /// The session it belongs to, as the machine numbers them: a receipt of an earlier
    /// session is ignored.
    pub(crate) generation: u32,
    pub(crate) seq: u64,
}

impl Ack {
    /// The sequence number of the event it acknowledges.
    #[must_use]
    pub fn seq(self) -> u64 {
        self.seq
    }
}

/// Serialized as one JSON object with the keys `shard` (`[id, total]`), `seq`, `type`
/// (the event name), `id` (or `null`) and `d` (the data exactly as received): the line
/// format of the `tail` examples.
///
/// # Examples
///
/// ```
/// use qqgw_proto::{Dispatch, ShardId};
///
/// let frame = r#"{"op":0,"s":7,"t":"RESUMED","d":""}"#;
/// let dispatch = Dispatch::from_frame(frame, ShardId::ONE).unwrap();
/// assert_eq!(
///     serde_json::to_string(&dispatch).unwrap(),
///     r#"{"shard":[0,1],"seq":7,"type":"RESUMED","id":null,"d":""}"#
/// );
/// ```
impl serde::Serialize for Dispatch {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut line = serializer.serialize_struct("Dispatch", 5)?;
        line.serialize_field("shard", &self.shard)?;
        line.serialize_field("seq", &self.seq)?;
        line.serialize_field("type", &*self.name)?;
        line.serialize_field("id", &self.id)?;
        line.serialize_field("d", &*self.data)?;
        line.end()
    }
}

/// Two dispatches are equal when every part QQ sent is, the data compared as received
/// text (the machine's receipt is not compared).
impl PartialEq for Dispatch {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
            && self.name == other.name
            && self.id == other.id
            && self.shard == other.shard
            && self.data.get() == other.data.get()
    }
}

impl Eq for Dispatch {}

impl fmt::Debug for Dispatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatch")
            .field("name", &self.name)
            .field("seq", &self.seq)
            .field("id", &self.id)
            .field("shard", &self.shard)
            .field("data", &crate::error::snippet(self.data.get()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_dispatch_and_incomplete_frames() {
        let one = ShardId::ONE;
        assert!(matches!(
            Dispatch::from_frame(r#"{"op":11}"#, one),
            Err(DecodeError::UnexpectedOpcode { op: 11 })
        ));
        assert!(matches!(
            Dispatch::from_frame(r#"{"op":0,"s":3,"d":{}}"#, one),
            Err(DecodeError::DispatchWithoutName { seq: Some(3) })
        ));
        assert!(matches!(
            Dispatch::from_frame(r#"{"op":0,"t":"X"}"#, one),
            Err(DecodeError::DispatchWithoutData { .. })
        ));
    }

    #[test]
    fn keeps_resumed_empty_string_data() {
        let d = Dispatch::from_frame(r#"{"op":0,"s":2002,"t":"RESUMED","d":""}"#, ShardId::ONE);
        assert!(d.is_ok_and(|d| d.data().get() == "\"\"" && d.id().is_none()));
    }
}
