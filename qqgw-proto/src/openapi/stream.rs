//! C2C streaming (QQ-API.md §6): the `stream_messages` body.

use serde::Serialize;

use super::request::{Check, RequestError, request};

/// `input_state` of a chunk: 1 while generating.
pub const STREAM_GENERATING: u8 = 1;
/// `input_state` of the last chunk: generation finished. Without it the message stays
/// "generating" or is rolled back.
pub const STREAM_FINISHED: u8 = 10;

/// One chunk of a streamed C2C message, the body of [`SendC2cStream`]. Every field is
/// optional in QQ's table; unset ones are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StreamChunk {
    /// `append` (QQ's default: the text is added) or `replace` (the text is the whole
    /// message so far and must extend what was delivered).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_mode: Option<String>,
    /// [`STREAM_GENERATING`] or [`STREAM_FINISHED`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_state: Option<u8>,
    /// The chunk number, from 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// `text` or `markdown`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The chunk's text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_raw: Option<String>,
    /// Passive anchor: the received C2C message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<String>,
    /// Passive anchor: an event id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// Absent on the first chunk; then the `id` the first answer returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_msg_id: Option<String>,
    /// De-duplication sequence (the same on every chunk in QQ's example).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_seq: Option<u32>,
    /// Do not check the validity window of `msg_id`/`event_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_wakeup: Option<bool>,
}

impl Check for StreamChunk {
    fn check(&self) -> Result<(), RequestError> {
        if self.msg_id.is_some() && self.event_id.is_some() {
            return Err(RequestError::invalid("msg_id", "either msg_id or event_id, not both"));
        }
        Ok(())
    }
}

request! {
    /// `POST /v2/users/{user_openid}/stream_messages`: one chunk of a streamed C2C
    /// message.
    SendC2cStream { user_openid } body StreamChunk;
}
