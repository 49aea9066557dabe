//! Rich-media upload (QQ-API.md §7): by URL, or in parts (`upload_prepare`, a presigned
//! PUT per part, `upload_part_finish`, then `files` with the `upload_id`).

use core::time::Duration;

use serde::{Serialize, Serializer};

use super::request::{Check, RequestError, request};
use super::response::model;

/// `file_type` of an upload.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileType {
    /// 1: png, jpg, gif, webp, bmp (above 20 MB sent as a file).
    #[default]
    Image,
    /// 2: mp4 (above 30 MB sent as a file).
    Video,
    /// 3: silk, mp3, wav, ogg (above 20 MB sent as a file).
    Voice,
    /// 4: any file, at most 200 MB.
    File,
}

impl FileType {
    /// The number sent as `file_type`.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::Image => 1,
            Self::Video => 2,
            Self::Voice => 3,
            Self::File => 4,
        }
    }
}

impl Serialize for FileType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.code())
    }
}

/// The hard limit of any upload: 200 MB.
pub const MAX_UPLOAD_BYTES: u64 = 200 * 1024 * 1024;

/// The body of [`UploadC2cFile`] and [`UploadGroupFile`]: a URL for QQ to fetch, or the
/// `upload_id` of a finished chunked upload.
///
/// `srv_send_msg: true` sends the media at once as an **active** message (its quota
/// applies); the default, false, only returns the `file_info` to send with
/// [`MessageBody::media`](super::MessageBody::media).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct FileUpload {
    /// What kind of media.
    pub file_type: FileType,
    /// The source URL (http or https); empty when merging a chunked upload.
    pub url: String,
    /// Send the media at once (active message quota).
    pub srv_send_msg: bool,
    /// The file name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// The chunked upload to merge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
}

impl FileUpload {
    /// QQ fetches `url`.
    #[must_use]
    pub fn url(file_type: FileType, url: impl Into<String>) -> Self {
        Self { file_type, url: url.into(), ..Self::default() }
    }

    /// Merges the finished chunked upload `upload_id`.
    #[must_use]
    pub fn merge(file_type: FileType, upload_id: impl Into<String>) -> Self {
        Self { file_type, upload_id: Some(upload_id.into()), ..Self::default() }
    }

    /// Sets the file name.
    #[must_use]
    pub fn file_name(mut self, name: impl Into<String>) -> Self {
        self.file_name = Some(name.into());
        self
    }

    /// Sends the media at once (consumes active message quota).
    #[must_use]
    pub fn send_now(mut self, send: bool) -> Self {
        self.srv_send_msg = send;
        self
    }
}

impl Check for FileUpload {
    fn check(&self) -> Result<(), RequestError> {
        if self.upload_id.is_none() && !(self.url.starts_with("http://") || self.url.starts_with("https://"))
        {
            return Err(RequestError::invalid("url", "an http(s) URL, or an upload_id to merge"));
        }
        Ok(())
    }
}

/// How many leading bytes `md5_10m` hashes (the whole file if shorter).
pub const MD5_10M_BYTES: u64 = 10_002_432;

/// The body of [`PrepareC2cUpload`] and [`PrepareGroupUpload`]. Sizes are sent as
/// strings, as QQ documents them. Hashes are lowercase or uppercase hex, computed by
/// the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct UploadPrepare {
    /// What kind of media.
    pub file_type: FileType,
    /// The size in bytes.
    pub file_size: String,
    /// The file name.
    pub file_name: String,
    /// MD5 of the whole file.
    pub md5: String,
    /// SHA-1 of the whole file.
    pub sha1: String,
    /// MD5 of the first [`MD5_10M_BYTES`] bytes (of the whole file if shorter).
    pub md5_10m: String,
}

impl UploadPrepare {
    /// The body for a file of `size` bytes with these hex hashes.
    #[must_use]
    pub fn new(
        file_type: FileType,
        size: u64,
        file_name: impl Into<String>,
        md5: impl Into<String>,
        sha1: impl Into<String>,
        md5_10m: impl Into<String>,
    ) -> Self {
        Self {
            file_type,
            file_size: size.to_string(),
            file_name: file_name.into(),
            md5: md5.into(),
            sha1: sha1.into(),
            md5_10m: md5_10m.into(),
        }
    }
}

impl Check for UploadPrepare {
    fn check(&self) -> Result<(), RequestError> {
        let size: u64 =
            self.file_size.parse().map_err(|_| RequestError::invalid("file_size", "a decimal byte count"))?;
        if size == 0 || size > MAX_UPLOAD_BYTES {
            return Err(RequestError::invalid(
                "file_size",
                format_args!("{size} bytes: 1 to {MAX_UPLOAD_BYTES}"),
            ));
        }
        check_hex("md5", &self.md5, 32)?;
        check_hex("sha1", &self.sha1, 40)?;
        check_hex("md5_10m", &self.md5_10m, 32)
    }
}

fn check_hex(field: &'static str, value: &str, len: usize) -> Result<(), RequestError> {
    if value.len() != len || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(RequestError::invalid(field, format_args!("{len} hex digits")));
    }
    Ok(())
}

/// The body of [`FinishC2cUploadPart`] and [`FinishGroupUploadPart`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct UploadPartFinish {
    /// From `upload_prepare`.
    pub upload_id: String,
    /// The part's `index`.
    pub part_index: u32,
    /// The part's actual size in bytes, as a string.
    pub block_size: String,
    /// MD5 of the part (hex).
    pub md5: String,
}

impl UploadPartFinish {
    /// Part `part_index` of `upload_id`, `size` bytes with MD5 `md5`.
    #[must_use]
    pub fn new(upload_id: impl Into<String>, part_index: u32, size: u64, md5: impl Into<String>) -> Self {
        Self { upload_id: upload_id.into(), part_index, block_size: size.to_string(), md5: md5.into() }
    }
}

impl Check for UploadPartFinish {
    fn check(&self) -> Result<(), RequestError> {
        check_hex("md5", &self.md5, 32)
    }
}

request! {
    /// `POST /v2/users/{user_openid}/files`: upload for a C2C chat (the `file_info`
    /// works only in C2C).
    UploadC2cFile { user_openid } body FileUpload;
}
request! {
    /// `POST /v2/users/{user_id}/upload_prepare`: start a chunked upload for a C2C
    /// chat (`user_id` is the user's openid).
    PrepareC2cUpload { user_id } body UploadPrepare;
}
request! {
    /// `POST /v2/users/{user_id}/upload_part_finish`: one part of a C2C upload is in.
    FinishC2cUploadPart { user_id } body UploadPartFinish;
}
request! {
    /// `POST /v2/groups/{group_openid}/files`: upload for a group (the `file_info`
    /// works only in groups).
    UploadGroupFile { group_openid } body FileUpload;
}
request! {
    /// `POST /v2/groups/{group_id}/upload_prepare`: start a chunked upload for a group
    /// (`group_id` is the group's openid).
    PrepareGroupUpload { group_id } body UploadPrepare;
}
request! {
    /// `POST /v2/groups/{group_id}/upload_part_finish`: one part of a group upload is in.
    FinishGroupUploadPart { group_id } body UploadPartFinish;
}

model! {
    /// What `…/files` answers.
    FileUploaded {
        /// The file's id.
        file_uuid: Option<String> => "crate::model::de::text",
        /// Pass unchanged to [`MessageBody::media`](super::MessageBody::media).
        file_info: Option<String> => "crate::model::de::text",
        /// Seconds `file_info` stays valid; 0 = long-lived.
        ttl: Option<u64> => "crate::model::de::num",
        /// The message id, with `srv_send_msg: true`.
        id: Option<String> => "crate::model::de::text",
        /// A download URL valid for `ttl` (chunked images, video and voice only).
        raw_url: Option<String> => "crate::model::de::text",
    }

    /// What `upload_prepare` answers. Sizes are accepted as strings or numbers, and the
    /// upload settings nested in `upload_config` or at the top level (QQ-API.md §7.6);
    /// [`plan`](Self::plan) checks it against the file.
    UploadPrepared {
        /// The upload's id, for the next steps.
        upload_id: Option<String> => "crate::model::de::text",
        /// The part size in bytes.
        block_size: Option<u64> => "crate::model::de::num",
        /// The parts to PUT.
        parts: Vec<UploadPart> => "crate::model::de::list",
        /// Concurrency and retry settings.
        upload_config: Option<UploadConfig>,
        /// `concurrency` at the top level (Tencent's Node SDK reads it there).
        concurrency: Option<u32> => "crate::model::de::num",
        /// `retry_timeout` at the top level.
        retry_timeout: Option<u64> => "crate::model::de::num",
        /// `retry_delay` at the top level.
        retry_delay: Option<u64> => "crate::model::de::num",
    }

    /// A part of a chunked upload, as `upload_prepare` lists it.
    UploadPart {
        /// From 0.
        index: Option<u32> => "crate::model::de::num",
        /// Where to PUT the bytes.
        presigned_url: Option<String> => "crate::model::de::text",
        /// The part's size in bytes (else the upload's `block_size`).
        block_size: Option<u64> => "crate::model::de::num",
    }

    /// `upload_config` of `upload_prepare`.
    UploadConfig {
        /// Parts at once (QQ's default 1).
        concurrency: Option<u32> => "crate::model::de::num",
        /// Seconds to keep retrying a part (QQ's default 300).
        retry_timeout: Option<u64> => "crate::model::de::num",
        /// Seconds between retries (QQ's default 1).
        retry_delay: Option<u64> => "crate::model::de::num",
    }
}

/// Parts at once when `upload_prepare` does not say (QQ's documented default).
pub const DEFAULT_UPLOAD_CONCURRENCY: u32 = 1;
/// How long to keep retrying a part when `upload_prepare` does not say (QQ's default).
pub const DEFAULT_RETRY_TIMEOUT: Duration = Duration::from_secs(300);
/// The pause between retries of a part when `upload_prepare` does not say (QQ's
/// default).
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);
/// The most parts qqgw uploads at once, whatever `upload_prepare` asks for.
pub const MAX_UPLOAD_CONCURRENCY: u32 = 16;

/// A chunked upload's answer checked against the file: where each part's bytes go,
/// and how to pace and retry the PUTs.
///
/// Made by [`UploadPrepared::plan`]. The parts tile the file exactly: sorted by
/// index from 0 with no gap, each starting where the one before ended, the last
/// ending at the file's size.
///
/// # Examples
///
/// ```
/// use qqgw_proto::openapi::{Endpoint, FileType, PrepareGroupUpload, UploadPrepared};
///
/// let answer = br#"{"upload_id":"up","block_size":"4","parts":[
///     {"index":1,"presigned_url":"https://cos/1"},{"index":0,"presigned_url":"https://cos/0"}],
///     "upload_config":{"concurrency":2}}"#;
/// let prepared: UploadPrepared = PrepareGroupUpload::parse_response(200, None, answer)?;
/// let plan = prepared.plan(6)?;
/// assert_eq!(plan.parts.iter().map(|p| (p.offset, p.len)).collect::<Vec<_>>(), [(0, 4), (4, 2)]);
/// assert_eq!(plan.concurrency, 2);
/// // After each PUT of `parts[i]` to its `presigned_url`, report it; then merge.
/// let finish = plan.part_finish(&plan.parts[1], "0123456789abcdef0123456789abcdef");
/// assert_eq!((finish.part_index, finish.block_size.as_str()), (1, "2"));
/// let merge = plan.merge(FileType::File);
/// assert_eq!(merge.upload_id.as_deref(), Some("up"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadPlan {
    /// The upload's id.
    pub upload_id: String,
    /// The parts, in file order.
    pub parts: Vec<PlannedPart>,
    /// Parts to PUT at once: `upload_config.concurrency` (or the top-level field),
    /// default [`DEFAULT_UPLOAD_CONCURRENCY`], between 1 and [`MAX_UPLOAD_CONCURRENCY`].
    pub concurrency: u32,
    /// How long to keep retrying a failed part (default [`DEFAULT_RETRY_TIMEOUT`]).
    pub retry_timeout: Duration,
    /// The pause between retries of a part (default [`DEFAULT_RETRY_DELAY`]).
    pub retry_delay: Duration,
}

/// One part of an [`UploadPlan`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlannedPart {
    /// The part's index (`part_index` of `upload_part_finish`).
    pub index: u32,
    /// Where its bytes start in the file.
    pub offset: u64,
    /// How many bytes.
    pub len: u64,
    /// Where to PUT them.
    pub presigned_url: String,
}

/// An `upload_prepare` answer that does not fit the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("upload_prepare answer unusable: {0}")]
pub struct PlanError(String);

impl UploadPrepared {
    /// Checks the answer against a file of `file_size` bytes and lays the parts out.
    ///
    /// A part without its own `block_size` is the upload's `block_size` long, the last
    /// one whatever remains of the file (at most `block_size`). Sizes may have arrived as strings or numbers, the settings
    /// nested in `upload_config` or at the top level.
    ///
    /// # Errors
    ///
    /// [`PlanError`] when the upload id or a URL is missing, indices are not 0, 1, 2, …,
    /// a part is empty, or the parts do not cover the file exactly.
    pub fn plan(&self, file_size: u64) -> Result<UploadPlan, PlanError> {
        let fail = |why: String| Err(PlanError(why));
        let Some(upload_id) = self.upload_id.clone().filter(|id| !id.is_empty()) else {
            return fail("no upload_id".to_owned());
        };
        if file_size == 0 {
            return fail("the file is empty".to_owned());
        }
        let mut listed: Vec<&UploadPart> = self.parts.iter().collect();
        listed.sort_by_key(|part| part.index);
        let mut parts = Vec::with_capacity(listed.len());
        let mut offset = 0u64;
        let count = listed.len();
        for (position, part) in listed.into_iter().enumerate() {
            let index = u32::try_from(position).unwrap_or(u32::MAX);
            if part.index != Some(index) {
                return fail(format!(
                    "part indices are not 0..{count} (found {:?} at {position})",
                    part.index
                ));
            }
            let remaining = file_size.saturating_sub(offset);
            let is_last = position + 1 == count;
            let len = match (part.block_size, self.block_size) {
                (Some(len), _) => len,
                (None, Some(block)) if !is_last => block,
                (None, Some(block)) => remaining.min(block),
                (None, None) => {
                    return fail(format!("part {index} has no size and the upload no block_size"));
                }
            };
            if len == 0 || len > remaining {
                return fail(format!(
                    "part {index} is {len} bytes at offset {offset} of a {file_size}-byte file"
                ));
            }
            let Some(url) = part.presigned_url.clone().filter(|url| !url.is_empty()) else {
                return fail(format!("part {index} has no presigned_url"));
            };
            parts.push(PlannedPart { index, offset, len, presigned_url: url });
            offset += len;
        }
        if offset != file_size {
            return fail(format!("the parts cover {offset} of {file_size} bytes"));
        }
        let config = self.upload_config.as_ref();
        let concurrency = config
            .and_then(|c| c.concurrency)
            .or(self.concurrency)
            .unwrap_or(DEFAULT_UPLOAD_CONCURRENCY)
            .clamp(1, MAX_UPLOAD_CONCURRENCY);
        let seconds = |nested: Option<u64>, top: Option<u64>, default: Duration| {
            nested.or(top).map_or(default, Duration::from_secs)
        };
        Ok(UploadPlan {
            upload_id,
            parts,
            concurrency,
            retry_timeout: seconds(
                config.and_then(|c| c.retry_timeout),
                self.retry_timeout,
                DEFAULT_RETRY_TIMEOUT,
            ),
            retry_delay: seconds(config.and_then(|c| c.retry_delay), self.retry_delay, DEFAULT_RETRY_DELAY),
        })
    }
}

impl UploadPlan {
    /// The `upload_part_finish` body for `part`, once its PUT succeeded; `md5` is the
    /// part's MD5 (hex).
    #[must_use]
    pub fn part_finish(&self, part: &PlannedPart, md5: impl Into<String>) -> UploadPartFinish {
        UploadPartFinish::new(self.upload_id.clone(), part.index, part.len, md5)
    }

    /// The final `files` body that merges the parts into a `file_info`.
    #[must_use]
    pub fn merge(&self, file_type: FileType) -> FileUpload {
        FileUpload::merge(file_type, self.upload_id.clone())
    }
}
