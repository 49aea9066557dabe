//! Where sessions live between runs: the [`SessionStore`] trait and the file store.

use core::future::Future;
use core::pin::Pin;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use futures_channel::oneshot;
use qqgw_proto::{Session, ShardId};

/// A boxed future, as [`SessionStore`]'s methods return.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Why a [`SessionStore`] could not load or save.
#[derive(Debug, Clone, thiserror::Error)]
#[error("session store: {0}")]
pub struct StoreError(pub String);

/// Keeps each shard's session — its id and handled checkpoint — across restarts, so that
/// a restarted bot RESUMEs where it left off instead of IDENTIFYing and losing what QQ
/// sent meanwhile.
///
/// Each shard loads its session once at start and saves it as its checkpoint moves (at
/// most every 200 ms or 1,000 events) and when it closes. The saved `seq` is the last
/// event *handled*, so a crash replays what was in flight: at least once.
///
/// [`FileStore`] is the one qqgw ships; implement this for a database of your own.
pub trait SessionStore: Send + Sync + 'static {
    /// The session saved for `shard`, if any.
    fn load(&self, shard: ShardId) -> StoreFuture<'_, Option<Session>>;
    /// Saves `session` (replacing the one of its shard); resolves once it is durable.
    fn save(&self, session: Session) -> StoreFuture<'_, ()>;
    /// Forgets the session of `shard`.
    fn clear(&self, shard: ShardId) -> StoreFuture<'_, ()>;
}

/// Every shard's session in one JSON file, written atomically: a temporary file beside
/// it, `fsync`, then a rename over the old one. A crash at any point leaves either the
/// old file or the new one, never a torn one.
///
/// Writes run on a thread of the store's own, so no async worker ever waits on the disk;
/// writes that queue up while one is under way are coalesced into one.
///
/// # Examples
///
/// ```no_run
/// use qqgw_client::{Config, FileStore};
///
/// let config = Config::builder("102012345", "secret")
///     .session_store(FileStore::new("sessions.json"))
///     .build();
/// ```
#[derive(Clone)]
pub struct FileStore {
    path: Arc<PathBuf>,
    /// The file's content as last written (or read).
    sessions: Arc<Mutex<Option<BTreeMap<String, Session>>>>,
    writer: std_mpsc::Sender<oneshot::Sender<Result<(), StoreError>>>,
}

impl core::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FileStore").field("path", &self.path).finish_non_exhaustive()
    }
}

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct File {
    sessions: Vec<Session>,
}

impl FileStore {
    /// A store in the file at `path` (created on the first save; its folder must exist).
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = Arc::new(path.into());
        let sessions = Arc::new(Mutex::new(None));
        let (writer, requests) = std_mpsc::channel::<oneshot::Sender<Result<(), StoreError>>>();
        let (thread_path, thread_sessions) = (Arc::clone(&path), Arc::clone(&sessions));
        std::thread::Builder::new()
            .name("qqgw-session-store".into())
            .spawn(move || {
                while let Ok(first) = requests.recv() {
                    // Every save queued meanwhile is covered by this one write.
                    let mut waiting = vec![first];
                    waiting.extend(requests.try_iter());
                    let snapshot = lock(&thread_sessions).clone().unwrap_or_default();
                    let result = write_atomically(&thread_path, &snapshot);
                    for done in waiting {
                        let _ = done.send(result.clone());
                    }
                }
            })
            .ok();
        Self { path, sessions, writer }
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sessions, read from the file the first time.
    fn with_sessions<T>(&self, f: impl FnOnce(&mut BTreeMap<String, Session>) -> T) -> Result<T, StoreError> {
        let mut guard = lock(&self.sessions);
        if guard.is_none() {
            *guard = Some(read(&self.path)?);
        }
        Ok(f(guard.get_or_insert_with(BTreeMap::new)))
    }

    async fn write(&self) -> Result<(), StoreError> {
        let (done, written) = oneshot::channel();
        self.writer.send(done).map_err(|_| StoreError("the writer thread is gone".into()))?;
        written.await.map_err(|_| StoreError("the writer thread is gone".into()))?
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn key(shard: ShardId) -> String {
    format!("{}/{}", shard.id(), shard.total())
}

fn read(path: &Path) -> Result<BTreeMap<String, Session>, StoreError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(StoreError(format!("reading {}: {e}", path.display()))),
    };
    let file: File = serde_json::from_str(&text)
        .map_err(|e| StoreError(format!("{} is not a session file: {e}", path.display())))?;
    Ok(file.sessions.into_iter().map(|s| (key(s.shard), s)).collect())
}

fn write_atomically(path: &Path, sessions: &BTreeMap<String, Session>) -> Result<(), StoreError> {
    let fail = |what: &str, e: std::io::Error| StoreError(format!("{what} {}: {e}", path.display()));
    let file = File { sessions: sessions.values().cloned().collect() };
    let text = serde_json::to_vec_pretty(&file).map_err(|e| StoreError(e.to_string()))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut out = std::fs::File::create(&tmp).map_err(|e| fail("creating a temporary file for", e))?;
    out.write_all(&text).map_err(|e| fail("writing", e))?;
    out.sync_all().map_err(|e| fail("syncing", e))?;
    drop(out);
    std::fs::rename(&tmp, path).map_err(|e| fail("replacing", e))?;
    // The rename itself is durable once the folder is synced.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

impl SessionStore for FileStore {
    fn load(&self, shard: ShardId) -> StoreFuture<'_, Option<Session>> {
        let result = self.with_sessions(|s| s.get(&key(shard)).cloned());
        Box::pin(async move { result })
    }

    fn save(&self, session: Session) -> StoreFuture<'_, ()> {
        let updated = self.with_sessions(|s| {
            s.insert(key(session.shard), session);
        });
        Box::pin(async move {
            updated?;
            self.write().await
        })
    }

    fn clear(&self, shard: ShardId) -> StoreFuture<'_, ()> {
        let updated = self.with_sessions(|s| {
            s.remove(&key(shard));
        });
        Box::pin(async move {
            updated?;
            self.write().await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    #[test]
    fn saves_survive_a_new_store_and_clear_forgets() {
        let dir = std::env::temp_dir().join(format!("qqgw-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sessions.json");
        let _ = std::fs::remove_file(&path);
        let (a, b) = (ShardId::new(0, 2).unwrap(), ShardId::new(1, 2).unwrap());
        let store = FileStore::new(&path);
        assert_eq!(block_on(store.load(a)).unwrap(), None);
        block_on(store.save(Session::new("s-a", 10, a))).unwrap();
        block_on(store.save(Session::new("s-b", 20, b))).unwrap();
        block_on(store.save(Session::new("s-a", 11, a))).unwrap();

        let reopened = FileStore::new(&path);
        assert_eq!(block_on(reopened.load(a)).unwrap(), Some(Session::new("s-a", 11, a)));
        assert_eq!(block_on(reopened.load(b)).unwrap(), Some(Session::new("s-b", 20, b)));
        block_on(reopened.clear(a)).unwrap();
        assert_eq!(block_on(FileStore::new(&path).load(a)).unwrap(), None);
        assert!(!dir.join("sessions.json.tmp").exists(), "the temporary file was renamed");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_that_is_not_a_session_file_is_an_error_not_a_fresh_start() {
        let path = std::env::temp_dir().join(format!("qqgw-store-bad-{}.json", std::process::id()));
        std::fs::write(&path, "not json").unwrap();
        let error = block_on(FileStore::new(&path).load(ShardId::ONE)).unwrap_err();
        assert!(error.to_string().contains("is not a session file"), "{error}");
        std::fs::remove_file(&path).unwrap();
    }
}
