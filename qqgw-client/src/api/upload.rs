//! Chunked upload of a file or bytes (QQ-API.md §7): the IO around `qqgw-proto`'s
//! [`UploadPlan`].

use core::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::StreamExt;
use md5::{Digest, Md5};
use qqgw_proto::openapi::{
    FileType, FinishC2cUploadPart, FinishGroupUploadPart, MD5_10M_BYTES, PlannedPart, PrepareC2cUpload,
    PrepareGroupUpload, UploadC2cFile, UploadGroupFile, UploadPartFinish, UploadPlan, UploadPrepare,
};
use sha1::Sha1;

use super::message::{Media, Target};
use super::{Api, CallError};
use crate::http::Wire;

/// The most times one part is PUT, whatever QQ's `retry_timeout` allows.
const MAX_PART_ATTEMPTS: u32 = 5;

/// What to upload: bytes in memory or a local file (read a part at a time, on the
/// runtime's blocking threads).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum UploadSource {
    /// Bytes in memory.
    Bytes(Arc<[u8]>),
    /// A local file.
    File(PathBuf),
}

impl UploadSource {
    /// Bytes in memory.
    #[must_use]
    pub fn bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self::Bytes(bytes.into().into())
    }

    /// A local file.
    #[must_use]
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self::File(path.into())
    }
}

/// How far an [`Upload`] is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Parts stored and reported to QQ.
    pub parts_done: usize,
    /// Parts in all (0 before QQ's `upload_prepare` answer).
    pub parts: usize,
    /// Bytes of the parts done.
    pub bytes_done: u64,
    /// The file's size (0 before it is read).
    pub bytes: u64,
}

type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// The file's size and hashes, as `upload_prepare` wants them (hex).
#[derive(Debug, Clone)]
struct Hashed {
    size: u64,
    md5: String,
    sha1: String,
    md5_10m: String,
}

/// A chunked upload to a group or C2C chat (QQ-API.md §7), for a file or bytes of any
/// size QQ allows (200 MB): made by [`Group::upload_file`](super::Group::upload_file) or
/// [`User::upload_file`](super::User::upload_file), run with [`run`](Self::run).
///
/// It hashes the file (MD5, SHA-1, MD5 of the first 10,002,432 bytes), asks QQ where to
/// put it (`upload_prepare`), PUTs the parts to their presigned URLs — at most
/// `upload_config.concurrency` at once (QQ's default 1, at most 16), each tried again
/// after `retry_delay` until `retry_timeout` (at most 5 times) — reports each stored part
/// (`upload_part_finish`), then merges them (`files`) into the [`Media`] to send with
/// [`Outgoing::media`](super::Outgoing::media). The access token never goes to a
/// presigned URL, and a presigned URL must be `https://` unless the config allows
/// insecure endpoints.
///
/// If a part fails for good, `run` returns the error once the other parts are in; run it
/// again to resume: only the parts not yet done are sent. [`on_progress`](Self::on_progress)
/// is told after each part.
///
/// # Examples
///
/// ```no_run
/// use qqgw_tokio::api::{FileType, Outgoing, UploadSource};
/// # async fn f(api: qqgw_tokio::Api) -> Result<(), qqgw_tokio::api::CallError> {
/// let group = api.group("GROUP_OPENID");
/// let mut upload = group
///     .upload_file(FileType::File, "report.pdf", UploadSource::file("report.pdf"))
///     .on_progress(|p| println!("{} of {} bytes", p.bytes_done, p.bytes));
/// let media = match upload.run().await {
///     Ok(media) => media,
///     Err(error) => {
///         eprintln!("{error}; resuming");
///         upload.run().await?
///     }
/// };
/// group.send(Outgoing::media(media)).await?; // an active message: see ReplyTo::None
/// # Ok(()) }
/// ```
pub struct Upload {
    api: Api,
    target: Target,
    file_type: FileType,
    name: String,
    source: UploadSource,
    hashed: Option<Hashed>,
    plan: Option<UploadPlan>,
    done: Vec<bool>,
    on_progress: Option<ProgressFn>,
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upload")
            .field("target", &self.target)
            .field("file_type", &self.file_type)
            .field("name", &self.name)
            .field("progress", &self.progress())
            .finish_non_exhaustive()
    }
}

impl Upload {
    pub(crate) fn new(
        api: Api,
        target: Target,
        file_type: FileType,
        name: &str,
        source: UploadSource,
    ) -> Self {
        Self {
            api,
            target,
            file_type,
            name: name.to_owned(),
            source,
            hashed: None,
            plan: None,
            done: Vec::new(),
            on_progress: None,
        }
    }

    /// Calls `report` after each part is done (from the task running the upload).
    #[must_use]
    pub fn on_progress(mut self, report: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.on_progress = Some(Arc::new(report));
        self
    }

    /// How far the upload is.
    #[must_use]
    pub fn progress(&self) -> Progress {
        let parts = self.plan.as_ref().map_or(&[][..], |p| p.parts.as_slice());
        let done = || parts.iter().filter(|p| self.done.get(p.index as usize).copied().unwrap_or(false));
        Progress {
            parts_done: done().count(),
            parts: parts.len(),
            bytes_done: done().map(|p| p.len).sum(),
            bytes: self.hashed.as_ref().map_or(0, |h| h.size),
        }
    }

    /// Uploads what is not uploaded yet, then merges it: the [`Media`] to send.
    ///
    /// # Errors
    ///
    /// [`CallError::Upload`] if the file cannot be read, QQ's plan does not fit it, or a
    /// part cannot be stored (the others go on; run again to resume);
    /// [`CallError::Request`] for an empty file or one over 200 MB; QQ's errors as
    /// [`Api::call`] (40093002: the day's upload volume is used up).
    pub async fn run(&mut self) -> Result<Media, CallError> {
        let (Target::Group(_) | Target::User(_)) = &self.target else {
            return Err(CallError::NoReplyTarget("group or C2C chat (uploads are v2 only)"));
        };
        let hashed = match &self.hashed {
            Some(hashed) => hashed.clone(),
            None => {
                let source = self.source.clone();
                let hashed = self.api.blocking(move || hash(&source)).await;
                let hashed = hashed.ok_or_else(|| CallError::Upload("hashing was cancelled".into()))??;
                self.hashed = Some(hashed.clone());
                hashed
            }
        };
        if self.plan.is_none() {
            let body = UploadPrepare::new(
                self.file_type,
                hashed.size,
                self.name.as_str(),
                hashed.md5.as_str(),
                hashed.sha1.as_str(),
                hashed.md5_10m.as_str(),
            );
            let prepared = match &self.target {
                Target::Group(id) => self.api.call(&PrepareGroupUpload::new(id.as_str(), body)).await?,
                Target::User(id) => self.api.call(&PrepareC2cUpload::new(id.as_str(), body)).await?,
                _ => return Err(CallError::NoReplyTarget("group or C2C chat")),
            };
            let plan = prepared.plan(hashed.size).map_err(|e| CallError::Upload(e.to_string()))?;
            self.done = vec![false; plan.parts.len()];
            self.plan = Some(plan);
        }
        let Some(plan) = self.plan.clone() else {
            return Err(CallError::Upload("no upload plan".into()));
        };
        let pending: Vec<PlannedPart> = plan
            .parts
            .iter()
            .filter(|p| !self.done.get(p.index as usize).copied().unwrap_or(true))
            .cloned()
            .collect();
        let plan = Arc::new(plan);
        let mut parts = futures_util::stream::iter(pending.into_iter().map(|part| {
            let (api, target, source, plan) =
                (self.api.clone(), self.target.clone(), self.source.clone(), Arc::clone(&plan));
            async move {
                let index = part.index;
                (index, send_part(api, target, source, plan, part).await)
            }
        }))
        .buffer_unordered(plan.concurrency as usize);
        let mut failure = None;
        while let Some((index, result)) = parts.next().await {
            match result {
                Ok(()) => {
                    if let Some(done) = self.done.get_mut(index as usize) {
                        *done = true;
                    }
                    if let Some(report) = &self.on_progress {
                        report(self.progress());
                    }
                }
                Err(error) => {
                    failure.get_or_insert(error);
                }
            }
        }
        drop(parts);
        if let Some(error) = failure {
            return Err(error);
        }
        let merge = plan.merge(self.file_type).file_name(self.name.as_str());
        let uploaded = match &self.target {
            Target::Group(id) => self.api.call(&UploadGroupFile::new(id.as_str(), merge)).await?,
            Target::User(id) => self.api.call(&UploadC2cFile::new(id.as_str(), merge)).await?,
            _ => return Err(CallError::NoReplyTarget("group or C2C chat")),
        };
        Ok(Media::from_uploaded(uploaded))
    }
}

/// Stores one part at its presigned URL (retrying as QQ's plan says) and reports it.
async fn send_part(
    api: Api,
    target: Target,
    source: UploadSource,
    plan: Arc<UploadPlan>,
    part: PlannedPart,
) -> Result<(), CallError> {
    let url = part.presigned_url.clone();
    let scheme_ok = |scheme: &str| url.get(..scheme.len()).is_some_and(|s| s.eq_ignore_ascii_case(scheme));
    if !(scheme_ok("https://") || (api.allow_insecure() && scheme_ok("http://"))) {
        return Err(CallError::Upload(format!("part {}: the presigned URL is not https://", part.index)));
    }
    let (offset, len) = (part.offset, part.len);
    let read = api.blocking(move || read_part(&source, offset, len)).await;
    let (bytes, md5) = read.ok_or_else(|| CallError::Upload("reading was cancelled".into()))??;
    let deadline = api.now() + plan.retry_timeout;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let wire = Wire {
            method: "PUT",
            url: url.clone(),
            authorization: None,
            content_type: Some("application/octet-stream"),
            body: Some(bytes.clone()),
        };
        let failed = match api.send_raw(wire).await {
            Ok(answer) if (200..300).contains(&answer.status) => break,
            Ok(answer) => format!("HTTP {}", answer.status),
            Err(error) => error,
        };
        if attempts >= MAX_PART_ATTEMPTS || api.now() + plan.retry_delay > deadline {
            return Err(CallError::Upload(format!(
                "part {} not stored after {attempts} tries: {failed}",
                part.index
            )));
        }
        tracing::debug!(part = part.index, failed, "storing a part failed; trying again");
        api.sleep(plan.retry_delay).await;
    }
    let finish = UploadPartFinish::new(plan.upload_id.as_str(), part.index, part.len, md5);
    match &target {
        Target::Group(id) => api.call(&FinishGroupUploadPart::new(id.as_str(), finish)).await?,
        Target::User(id) => api.call(&FinishC2cUploadPart::new(id.as_str(), finish)).await?,
        _ => return Err(CallError::NoReplyTarget("group or C2C chat")),
    };
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        for nibble in [byte >> 4, byte & 0xF] {
            out.push(char::from(HEX.get(usize::from(nibble)).copied().unwrap_or(b'0')));
        }
    }
    out
}

/// The size, MD5, SHA-1 and MD5 of the first [`MD5_10M_BYTES`] of a source, read once.
fn hash(source: &UploadSource) -> Result<Hashed, CallError> {
    let (mut md5, mut sha1, mut md5_10m) = (Md5::new(), Sha1::new(), Md5::new());
    let mut size = 0u64;
    let mut feed = |chunk: &[u8]| {
        md5.update(chunk);
        sha1.update(chunk);
        let head = MD5_10M_BYTES.saturating_sub(size);
        let head = usize::try_from(head).unwrap_or(usize::MAX).min(chunk.len());
        md5_10m.update(chunk.get(..head).unwrap_or_default());
        size += chunk.len() as u64;
    };
    match source {
        UploadSource::Bytes(bytes) => bytes.chunks(1 << 20).for_each(&mut feed),
        UploadSource::File(path) => {
            let read_error = |e: std::io::Error| CallError::Upload(format!("{}: {e}", path.display()));
            let mut file = std::fs::File::open(path).map_err(read_error)?;
            let mut buffer = vec![0; 1 << 20];
            loop {
                let n = file.read(&mut buffer).map_err(read_error)?;
                if n == 0 {
                    break;
                }
                feed(buffer.get(..n).unwrap_or_default());
            }
        }
    }
    Ok(Hashed {
        size,
        md5: hex(&md5.finalize()),
        sha1: hex(&sha1.finalize()),
        md5_10m: hex(&md5_10m.finalize()),
    })
}

/// The `len` bytes at `offset`, and their MD5 (hex).
fn read_part(source: &UploadSource, offset: u64, len: u64) -> Result<(Vec<u8>, String), CallError> {
    let range = || CallError::Upload(format!("the file changed: no {len} bytes at {offset}"));
    let bytes = match source {
        UploadSource::Bytes(bytes) => {
            let start = usize::try_from(offset).map_err(|_| range())?;
            let end = start.checked_add(usize::try_from(len).map_err(|_| range())?).ok_or_else(range)?;
            bytes.get(start..end).ok_or_else(range)?.to_vec()
        }
        UploadSource::File(path) => {
            let read_error = |e: std::io::Error| CallError::Upload(format!("{}: {e}", path.display()));
            let mut file = std::fs::File::open(path).map_err(read_error)?;
            file.seek(SeekFrom::Start(offset)).map_err(read_error)?;
            let mut bytes = vec![0; usize::try_from(len).map_err(|_| range())?];
            file.read_exact(&mut bytes).map_err(read_error)?;
            bytes
        }
    };
    let md5 = hex(&Md5::digest(&bytes));
    Ok((bytes, md5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_hex_of_the_whole_and_the_head() {
        let hashed = hash(&UploadSource::bytes(b"abc".to_vec())).unwrap();
        assert_eq!(hashed.size, 3);
        assert_eq!(hashed.md5, "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(hashed.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(hashed.md5_10m, hashed.md5);
        let (part, md5) = read_part(&UploadSource::bytes(b"xabcx".to_vec()), 1, 3).unwrap();
        assert_eq!((part.as_slice(), md5.as_str()), (&b"abc"[..], "900150983cd24fb0d6963f7d28e17f72"));
        assert!(read_part(&UploadSource::bytes(b"ab".to_vec()), 1, 3).is_err());
    }
}
