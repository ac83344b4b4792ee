//! Files on disk and their metadata in SQLite. Synchronous: the server calls it from
//! `spawn_blocking`, never on an async worker thread and never under a lock held across an
//! `.await`.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};
use thiserror::Error;

use crate::id::FileId;

/// The database file's name in the data directory.
pub const DB_FILE: &str = "files.db";

/// A stored file's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRow {
    /// Its id.
    pub id: FileId,
    /// Its size in bytes.
    pub size: u64,
    /// When it was first uploaded (unix seconds).
    pub uploaded: f64,
    /// When it expires (unix seconds).
    pub expires: f64,
}

/// Why a storage operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A file operation failed.
    #[error("file storage: {0}")]
    Io(#[from] std::io::Error),
}

/// The file store: a SQLite database and a directory of files named by id.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
    files: PathBuf,
    tmp: PathBuf,
}

fn private_file(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    let _ = path;
    Ok(())
}

impl Store {
    /// Opens (or creates) the store in `data_dir` (which must exist): `files.db` (mode
    /// 0600), `files/` and `tmp/` (emptied: partial uploads of a previous run).
    ///
    /// # Errors
    /// [`StoreError`] when the database or the directories cannot be used.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let files = data_dir.join("files");
        let tmp = data_dir.join("tmp");
        std::fs::create_dir_all(&files)?;
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir_all(&tmp)?;
        let db = data_dir.join(DB_FILE);
        let conn = Connection::open(&db)?;
        private_file(&db)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             CREATE TABLE IF NOT EXISTS files (
                 id TEXT PRIMARY KEY NOT NULL CHECK (length(id) <= 44),
                 size INTEGER NOT NULL,
                 uploaded REAL NOT NULL,
                 expires REAL NOT NULL
             );
             CREATE INDEX IF NOT EXISTS files_expires ON files (expires);",
        )?;
        for suffix in ["-wal", "-shm"] {
            let mut name = db.clone().into_os_string();
            name.push(suffix);
            private_file(Path::new(&name))?;
        }
        Ok(Self {
            conn: Mutex::new(conn),
            files,
            tmp,
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Where partial uploads are written.
    #[must_use]
    pub fn tmp_dir(&self) -> &Path {
        &self.tmp
    }

    /// Where the file `id` lives: `files/<first two characters>/<id>`.
    #[must_use]
    pub fn path_of(&self, id: &FileId) -> PathBuf {
        self.files.join(id.shard()).join(id.as_str())
    }

    /// The bytes of every stored file.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`].
    pub fn used_bytes(&self) -> Result<u64, StoreError> {
        let total: i64 =
            self.conn()
                .query_row("SELECT COALESCE(SUM(size), 0) FROM files", [], |r| r.get(0))?;
        Ok(u64::try_from(total).unwrap_or(0))
    }

    /// The file `id` if it exists and has not expired at `now`.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`].
    pub fn get(&self, id: &FileId, now: f64) -> Result<Option<FileRow>, StoreError> {
        let row = self
            .conn()
            .query_row(
                "SELECT size, uploaded, expires FROM files WHERE id = ?1",
                params![id.as_str()],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, f64>(1)?,
                        r.get::<_, f64>(2)?,
                    ))
                },
            )
            .optional()?;
        Ok(row
            .filter(|&(_, _, expires)| expires > now)
            .map(|(size, uploaded, expires)| FileRow {
                id: id.clone(),
                size: u64::try_from(size).unwrap_or(0),
                uploaded,
                expires,
            }))
    }

    /// Stores the upload written to `tmp` as `id` (its content hash), or, when `id` is
    /// already stored (an identical upload), drops `tmp` and raises the expiry to
    /// `max(old, now + ttl)`. Returns the row and whether the bytes are new.
    ///
    /// # Errors
    /// [`StoreError`]; `tmp` is then left for the caller to remove.
    pub fn commit(
        &self,
        tmp: &Path,
        id: &FileId,
        size: u64,
        now: f64,
        ttl_s: f64,
    ) -> Result<(FileRow, bool), StoreError> {
        let conn = self.conn();
        let expires = now + ttl_s;
        let existing: Option<(i64, f64, f64)> = conn
            .query_row(
                "SELECT size, uploaded, expires FROM files WHERE id = ?1",
                params![id.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let path = self.path_of(id);
        match existing {
            Some((old_size, uploaded, old_expires)) if path.exists() => {
                let expires = if old_expires > now {
                    old_expires.max(expires)
                } else {
                    expires
                };
                let uploaded = if old_expires > now { uploaded } else { now };
                conn.execute(
                    "UPDATE files SET expires = ?2, uploaded = ?3 WHERE id = ?1",
                    params![id.as_str(), expires, uploaded],
                )?;
                std::fs::remove_file(tmp)?;
                Ok((
                    FileRow {
                        id: id.clone(),
                        size: u64::try_from(old_size).unwrap_or(size),
                        uploaded,
                        expires,
                    },
                    false,
                ))
            }
            _ => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::rename(tmp, &path)?;
                let size_i = i64::try_from(size).unwrap_or(i64::MAX);
                conn.execute(
                    "INSERT INTO files (id, size, uploaded, expires) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (id) DO UPDATE SET size = ?2, uploaded = ?3, expires = ?4",
                    params![id.as_str(), size_i, now, expires],
                )?;
                Ok((
                    FileRow {
                        id: id.clone(),
                        size,
                        uploaded: now,
                        expires,
                    },
                    true,
                ))
            }
        }
    }

    /// Raises the expiry of a live file to `max(old, now + ttl)`.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`].
    pub fn extend(&self, id: &FileId, now: f64, ttl_s: f64) -> Result<Option<FileRow>, StoreError> {
        let Some(mut row) = self.get(id, now)? else {
            return Ok(None);
        };
        row.expires = row.expires.max(now + ttl_s);
        self.conn().execute(
            "UPDATE files SET expires = ?2 WHERE id = ?1",
            params![id.as_str(), row.expires],
        )?;
        Ok(Some(row))
    }

    /// Deletes every file expired at `now`; returns how many files and bytes went.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn sweep(&self, now: f64) -> Result<(usize, u64), StoreError> {
        let conn = self.conn();
        let expired: Vec<(String, i64)> = conn
            .prepare("SELECT id, size FROM files WHERE expires <= ?1")?
            .query_map(params![now], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut bytes = 0u64;
        for (id, size) in &expired {
            if let Ok(id) = FileId::parse(id) {
                match std::fs::remove_file(self.path_of(&id)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
            }
            conn.execute("DELETE FROM files WHERE id = ?1", params![id])?;
            bytes = bytes.saturating_add(u64::try_from(*size).unwrap_or(0));
        }
        Ok((expired.len(), bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp_file(store: &Store, name: &str, bytes: &[u8]) -> PathBuf {
        let p = store.tmp_dir().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn commit_dedup_extend_and_sweep() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let id = FileId::for_content_hash(&[1; 33]);
        let (row, new) = store
            .commit(&tmp_file(&store, "a", b"abc"), &id, 3, 100.0, 50.0)
            .unwrap();
        assert!(new);
        assert_eq!((row.size, row.uploaded, row.expires), (3, 100.0, 150.0));
        assert_eq!(std::fs::read(store.path_of(&id)).unwrap(), b"abc");
        assert_eq!(store.used_bytes().unwrap(), 3);
        // The same bytes again: deduplicated, expiry raised, never lowered.
        let (row, new) = store
            .commit(&tmp_file(&store, "b", b"abc"), &id, 3, 120.0, 100.0)
            .unwrap();
        assert!(!new);
        assert_eq!((row.uploaded, row.expires), (100.0, 220.0));
        let (row, _) = store
            .commit(&tmp_file(&store, "c", b"abc"), &id, 3, 121.0, 1.0)
            .unwrap();
        assert_eq!(row.expires, 220.0);
        assert!(!store.tmp_dir().join("b").exists());
        assert_eq!(store.used_bytes().unwrap(), 3);
        // Extend never shortens.
        assert_eq!(
            store.extend(&id, 130.0, 10.0).unwrap().unwrap().expires,
            220.0
        );
        assert_eq!(
            store.extend(&id, 130.0, 200.0).unwrap().unwrap().expires,
            330.0
        );
        // Expired: gone for readers at once, swept later.
        assert!(store.get(&id, 330.0).unwrap().is_none());
        assert!(store.extend(&id, 331.0, 10.0).unwrap().is_none());
        assert_eq!(store.sweep(331.0).unwrap(), (1, 3));
        assert!(!store.path_of(&id).exists());
        assert_eq!(store.used_bytes().unwrap(), 0);
    }

    #[cfg(unix)]
    #[test]
    fn database_is_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let _store = Store::open(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(DB_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
