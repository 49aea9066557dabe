//! The format of a stream entry, in one place: the [`StreamSink`](crate::StreamSink)
//! encodes through it and the [`Worker`](crate::Worker) decodes through it, and the
//! field names are declared here only. `STREAMS.md` documents it for workers in any
//! language, and `schema/stream-entry.v1.json` is its JSON Schema; a test validates
//! entries written to a real Redis against it.
//!
//! An entry is either an event — fields [`FIELD_VERSION`], [`FIELD_TYPE`], [`FIELD_ID`],
//! [`FIELD_SHARD`], [`FIELD_SEQ`], [`FIELD_SESSION`], [`FIELD_RECEIVED_AT`] and
//! [`FIELD_EVENT`] — or a gap report, fields [`FIELD_VERSION`], [`FIELD_SHARD`] and
//! [`FIELD_GAP`]. Every entry also names its writer ([`FIELD_WRITER`]). Entries of
//! qqgw-redis before the format was versioned have only `event`, `id`, `session` (or
//! `gap`) and `writer`; they are still read.

use qqgw_proto::{Dispatch, ShardId};
use redis::Value;
use redis::streams::StreamId;
use serde_json::value::RawValue;

use crate::sink::Gap;
use crate::worker::Item;

/// The version of the entry format this crate writes ([`FIELD_VERSION`]). A reader must
/// refuse entries of a higher major version; fields may be added within a version.
pub const FORMAT_VERSION: &str = "1";

/// Stream entry field: the format's version, [`FORMAT_VERSION`].
pub const FIELD_VERSION: &str = "v";
/// Stream entry field: the event name (`t`), e.g. `GROUP_AT_MESSAGE_CREATE`.
pub const FIELD_TYPE: &str = "type";
/// Stream entry field: the shard the entry belongs to, `<id>/<total>`.
pub const FIELD_SHARD: &str = "shard";
/// Stream entry field: the event's sequence number `s` in its session, in decimal (`""`
/// if QQ sent none: webhook events, some RESUMED).
pub const FIELD_SEQ: &str = "seq";
/// Stream entry field: when the gateway took the event from its connection (or the
/// webhook request) to publish it, in milliseconds since the Unix epoch, on the
/// gateway's clock.
pub const FIELD_RECEIVED_AT: &str = "received_at";

/// Stream entry field: the event as one JSON object, as `serde_json::to_string(&dispatch)`
/// writes it (the `tail` line format).
pub const FIELD_EVENT: &str = "event";
/// Stream entry field: the event id (`""` if QQ sent none): what duplicates are dropped by.
pub const FIELD_ID: &str = "id";
/// Stream entry field: the session the event belongs to (`""` if unknown); with the
/// sequence number, what an event without an id is told apart by.
pub const FIELD_SESSION: &str = "session";
/// Stream entry field: a gap report (JSON `{"kind", "session", "after", "next"}`) instead
/// of an event.
pub const FIELD_GAP: &str = "gap";
/// Stream entry field: the fencing token of the process that wrote the entry (`""` for a
/// writer without one), to tell after the fact who wrote what.
pub const FIELD_WRITER: &str = "writer";

/// What an entry holds, to be written.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Entry<'a> {
    /// An event of `session` (`""` when not known), received at `received_at` (ms since
    /// the Unix epoch).
    Event { dispatch: &'a Dispatch, session: &'a str, received_at: u64 },
    /// A gap report.
    Gap(&'a Gap),
}

/// The fields of an entry, in order, as `XADD` takes them.
pub(crate) type Fields = Vec<(&'static str, String)>;

/// The fields of `entry` of `shard`'s stream, written by `writer` (a fencing token, or
/// `""`).
pub(crate) fn encode(entry: Entry<'_>, shard: ShardId, writer: &str) -> Result<Fields, serde_json::Error> {
    let shard = format!("{}/{}", shard.id(), shard.total());
    let mut fields = match entry {
        Entry::Event { dispatch, session, received_at } => vec![
            (FIELD_VERSION, FORMAT_VERSION.to_owned()),
            (FIELD_TYPE, dispatch.name().to_owned()),
            (FIELD_ID, dispatch.id().unwrap_or("").to_owned()),
            (FIELD_SHARD, shard),
            (FIELD_SEQ, dispatch.seq().map(|s| s.to_string()).unwrap_or_default()),
            (FIELD_SESSION, session.to_owned()),
            (FIELD_RECEIVED_AT, received_at.to_string()),
            (FIELD_EVENT, serde_json::to_string(dispatch)?),
        ],
        Entry::Gap(gap) => vec![
            (FIELD_VERSION, FORMAT_VERSION.to_owned()),
            (FIELD_SHARD, shard),
            (FIELD_GAP, serde_json::to_string(gap)?),
        ],
    };
    fields.push((FIELD_WRITER, writer.to_owned()));
    Ok(fields)
}

/// What an entry read from `shard`'s stream holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decoded {
    /// The event or gap; [`Item::Lost`] for an entry this crate did not write.
    pub(crate) item: Item,
    /// The session of an event, as the gateway knew it (`None` when not given).
    pub(crate) session: Option<String>,
    /// The writer's fencing token (`None` when not given).
    pub(crate) writer: Option<String>,
    /// When the gateway received the event (ms since the Unix epoch; `None` when not
    /// given).
    pub(crate) received_at: Option<u64>,
}

fn field<'a>(entry: &'a StreamId, name: &str) -> Option<&'a [u8]> {
    match entry.map.get(name)? {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) => Some(text.as_bytes()),
        _ => None,
    }
}

fn text(entry: &StreamId, name: &str) -> Option<String> {
    field(entry, name).map(|bytes| String::from_utf8_lossy(bytes).into_owned())
}

/// Reads an entry of `shard`'s stream.
pub(crate) fn decode(shard: ShardId, entry: &StreamId) -> Decoded {
    let version = text(entry, FIELD_VERSION);
    let major = version.as_deref().map(|v| v.split('.').next().unwrap_or(v));
    let item = if major.is_some_and(|major| major != FORMAT_VERSION) {
        Item::Lost(format!(
            "entry {} is of format version {} (this reader knows {FORMAT_VERSION})",
            entry.id,
            version.as_deref().unwrap_or_default()
        ))
    } else if let Some(gap) = field(entry, FIELD_GAP) {
        serde_json::from_slice::<Gap>(gap)
            .map_or_else(|e| Item::Lost(format!("unreadable gap: {e}")), Item::Gap)
    } else if let Some(line) = field(entry, FIELD_EVENT) {
        decode_dispatch(line, shard).map_or_else(Item::Lost, Item::Event)
    } else {
        Item::Lost(format!("entry {} has no event", entry.id))
    };
    Decoded {
        item,
        session: text(entry, FIELD_SESSION),
        writer: text(entry, FIELD_WRITER),
        received_at: text(entry, FIELD_RECEIVED_AT).and_then(|t| t.parse().ok()),
    }
}

fn decode_dispatch(line: &[u8], shard: ShardId) -> Result<Dispatch, String> {
    #[derive(serde::Deserialize)]
    struct Line {
        seq: Option<u64>,
        #[serde(rename = "type")]
        name: String,
        id: Option<String>,
        d: Box<RawValue>,
    }
    let line: Line = serde_json::from_slice(line).map_err(|e| format!("unreadable event: {e}"))?;
    Ok(Dispatch::new(line.name, line.seq, line.id.map(Into::into), shard, line.d))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The entry as Redis hands it back: the fields `encode` wrote, as bulk strings.
    fn stored(id: &str, fields: &Fields) -> StreamId {
        StreamId {
            id: id.into(),
            map: fields
                .iter()
                .map(|(name, value)| ((*name).to_owned(), Value::BulkString(value.clone().into_bytes())))
                .collect(),
        }
    }

    #[test]
    fn an_event_and_a_gap_come_back_as_they_were_written() {
        let shard = ShardId::new(1, 4).unwrap();
        let data = RawValue::from_string(r#"{"content":"hi","n":[1,2]}"#.into()).unwrap();
        let dispatch = Dispatch::new("AT_MESSAGE_CREATE", Some(42), Some("AT:42".into()), shard, data);
        let fields = encode(
            Entry::Event { dispatch: &dispatch, session: "sess-1", received_at: 1_700_000_000_123 },
            shard,
            "7:abc",
        )
        .unwrap();
        assert_eq!(
            decode(shard, &stored("1-0", &fields)),
            Decoded {
                item: Item::Event(dispatch),
                session: Some("sess-1".into()),
                writer: Some("7:abc".into()),
                received_at: Some(1_700_000_000_123),
            }
        );
        let flat: std::collections::HashMap<_, _> = fields.iter().cloned().collect();
        assert_eq!(
            (flat["v"].as_str(), flat["type"].as_str(), flat["shard"].as_str(), flat["seq"].as_str()),
            ("1", "AT_MESSAGE_CREATE", "1/4", "42")
        );

        let gap = Gap {
            kind: Gap::SEQ_JUMP.into(),
            session: Some("sess-1".into()),
            after: 42,
            next: Some(45),
            group: None,
        };
        let fields = encode(Entry::Gap(&gap), shard, "").unwrap();
        assert_eq!(
            decode(shard, &stored("2-0", &fields)),
            Decoded { item: Item::Gap(gap), session: None, writer: Some(String::new()), received_at: None }
        );
    }

    #[test]
    fn an_event_without_id_or_sequence_number_comes_back_too() {
        let data = RawValue::from_string(r#""""#.into()).unwrap();
        let resumed = Dispatch::new("RESUMED", None, None, ShardId::ONE, data);
        let fields =
            encode(Entry::Event { dispatch: &resumed, session: "", received_at: 0 }, ShardId::ONE, "")
                .unwrap();
        assert_eq!(decode(ShardId::ONE, &stored("3-0", &fields)).item, Item::Event(resumed));
    }

    #[test]
    fn entries_this_crate_did_not_write_are_lost_not_misread() {
        let foreign = stored("4-0", &vec![("something", "else".to_owned())]);
        assert!(matches!(decode(ShardId::ONE, &foreign).item, Item::Lost(why) if why.contains("4-0")));
        let broken = stored("5-0", &vec![(FIELD_EVENT, "{not json".to_owned())]);
        assert!(matches!(decode(ShardId::ONE, &broken).item, Item::Lost(why) if why.contains("unreadable")));
        let newer = stored("6-0", &vec![(FIELD_VERSION, "2".to_owned()), (FIELD_EVENT, "{}".to_owned())]);
        assert!(matches!(decode(ShardId::ONE, &newer).item, Item::Lost(why) if why.contains("version 2")));
    }

    /// STREAMS.md's table and the JSON Schema name exactly the fields `encode` writes.
    #[test]
    fn the_documented_fields_are_the_fields_written() {
        use std::collections::BTreeSet;
        let dispatch =
            Dispatch::new("X", Some(1), None, ShardId::ONE, RawValue::from_string("{}".into()).unwrap());
        let gap = Gap { kind: Gap::SEQ_JUMP.into(), session: None, after: 1, next: Some(3), group: None };
        let names =
            |fields: Fields| fields.into_iter().map(|(name, _)| name.to_owned()).collect::<BTreeSet<_>>();
        let event = names(
            encode(Entry::Event { dispatch: &dispatch, session: "", received_at: 0 }, ShardId::ONE, "")
                .unwrap(),
        );
        let gap = names(encode(Entry::Gap(&gap), ShardId::ONE, "").unwrap());

        let doc = include_str!("../STREAMS.md");
        let section = doc.split("## Event and gap entries").nth(1).unwrap().split("\n## ").next().unwrap();
        let (mut doc_event, mut doc_gap) = (BTreeSet::new(), BTreeSet::new());
        for row in section.lines().filter(|l| l.starts_with("| `")) {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let name = cells[1].trim_matches('`').to_owned();
            if cells[2].contains("event") {
                doc_event.insert(name.clone());
            }
            if cells[2].contains("gap") {
                doc_gap.insert(name);
            }
        }
        assert_eq!(doc_event, event, "STREAMS.md's event fields");
        assert_eq!(doc_gap, gap, "STREAMS.md's gap fields");

        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../schema/stream-entry.v1.json")).unwrap();
        let required = |def: &str| -> BTreeSet<String> {
            schema["$defs"][def]["required"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(required("event_entry"), event, "the schema's event entry");
        assert_eq!(required("gap_entry"), gap, "the schema's gap entry");
    }

    #[test]
    fn entries_written_before_the_format_was_versioned_are_still_read() {
        let old = stored(
            "7-0",
            &vec![
                (FIELD_EVENT, r#"{"shard":[0,1],"seq":3,"type":"X","id":"X:1","d":{}}"#.to_owned()),
                (FIELD_ID, "X:1".to_owned()),
                (FIELD_SESSION, "s".to_owned()),
                (FIELD_WRITER, String::new()),
            ],
        );
        assert!(matches!(decode(ShardId::ONE, &old).item, Item::Event(d) if d.seq() == Some(3)));
    }
}
