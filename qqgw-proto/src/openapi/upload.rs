//! Rich-media upload (QQ-API.md §7): by URL, or in parts (`upload_prepare`, a presigned
//! PUT per part, `upload_part_finish`, then `files` with the `upload_id`).

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
    /// check it against the file before uploading.
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
