//! The local inventory: one SQLCipher database keyed with a raw Argon2id-derived key (see [`super::kdf`]).

use std::fmt;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};

use super::kdf::{self, KdfHeader};
use super::migrations::{self, Migration, MIGRATIONS};
use super::{Clock, InventoryError, SystemClock};
use crate::Secret;

mod records;

/// The inventory in a SQLCipher database file, with its key header `<path>.kdf` beside it.
///
/// Every write is one transaction committed with `synchronous=FULL` in WAL mode: when a method returns, the
/// change is on disk and visible to any other connection.
pub struct SqlCipherInventory {
    conn: Connection,
    path: PathBuf,
    clock: Box<dyn Clock>,
}

impl fmt::Debug for SqlCipherInventory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlCipherInventory")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqlCipherInventory {
    /// Creates a new inventory at `path` (and its key header `<path>.kdf`).
    ///
    /// Refuses if either file exists ([`InventoryError::AlreadyExists`]) or if zxcvbn scores the passphrase
    /// below 3 ([`InventoryError::WeakPassphrase`]). On failure nothing is left behind.
    pub fn create(path: impl AsRef<Path>, passphrase: &Secret) -> Result<Self, InventoryError> {
        Self::create_with(path.as_ref(), passphrase, MIGRATIONS)
    }

    pub(crate) fn create_with(
        path: &Path,
        passphrase: &Secret,
        migrations: &[Migration],
    ) -> Result<Self, InventoryError> {
        kdf::check_passphrase_strength(passphrase)?;
        let header_path = kdf::header_path(path);
        for existing in [path, header_path.as_path()] {
            if existing.exists() {
                return Err(InventoryError::AlreadyExists {
                    path: existing.to_path_buf(),
                });
            }
        }
        let header = KdfHeader::generate();
        let key = header.derive_key(passphrase)?;

        header.write_new(&header_path)?;
        let mut db_created = false;
        let created = (|| {
            // An empty file is a new SQLite database; create_new never clobbers a file made meanwhile.
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::AlreadyExists => InventoryError::AlreadyExists {
                        path: path.to_path_buf(),
                    },
                    _ => InventoryError::Io {
                        path: path.to_path_buf(),
                        source: e,
                    },
                })?;
            db_created = true;
            let inventory = Self::connect(path, &key, migrations)?;
            sync_parent_dir(path)?;
            Ok(inventory)
        })();
        if created.is_err() {
            // Remove only what this call created: the header (made with create_new above) and the database.
            if db_created {
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let mut name = path.as_os_str().to_owned();
                    name.push(suffix);
                    let _ = std::fs::remove_file(PathBuf::from(name));
                }
            }
            let _ = std::fs::remove_file(&header_path);
        }
        created
    }

    /// Opens the inventory at `path` with `passphrase`, migrating its schema to [`super::SCHEMA_VERSION`].
    ///
    /// [`InventoryError::NotFound`] if there is no database, [`InventoryError::WrongKey`] if the passphrase does
    /// not decrypt it (nothing on disk is changed then).
    pub fn open(path: impl AsRef<Path>, passphrase: &Secret) -> Result<Self, InventoryError> {
        Self::open_with(path.as_ref(), passphrase, MIGRATIONS)
    }

    pub(crate) fn open_with(
        path: &Path,
        passphrase: &Secret,
        migrations: &[Migration],
    ) -> Result<Self, InventoryError> {
        if !path.is_file() {
            return Err(InventoryError::NotFound {
                path: path.to_path_buf(),
            });
        }
        let header = KdfHeader::read(&kdf::header_path(path))?;
        let key = header.derive_key(passphrase)?;
        check_key(path, &key)?;
        Self::connect(path, &key, migrations)
    }

    #[cfg(test)]
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }

    /// True if an inventory database exists at `path`.
    pub fn exists(path: impl AsRef<Path>) -> bool {
        path.as_ref().is_file()
    }

    /// Replaces the clock used for `changed_at`, step and document times.
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open database (equal to [`super::SCHEMA_VERSION`] after `open`).
    pub fn schema_version(&self) -> Result<u32, InventoryError> {
        migrations::schema_version(&self.conn)
    }

    fn connect(
        path: &Path,
        key: &[u8; kdf::KEY_LEN],
        migrations: &[Migration],
    ) -> Result<Self, InventoryError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags)?;
        apply_key(&conn, key)?;
        // PRAGMA key does not check the key: the first read does (SQLITE_NOTADB, mapped to WrongKey). `open` has
        // checked the key already without touching any file (see `check_key`).
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })?;

        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(InventoryError::Database(format!(
                "could not switch the journal to WAL (got {mode})"
            )));
        }
        conn.execute_batch(
            "PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY; PRAGMA foreign_keys = ON;",
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        migrations::migrate(&mut conn, migrations)?;
        Ok(SqlCipherInventory {
            conn,
            path: path.to_path_buf(),
            clock: Box::new(SystemClock),
        })
    }

    /// Runs `f` in an IMMEDIATE transaction after checking that the device exists, and commits.
    fn write_for<T>(
        &mut self,
        serial: &str,
        f: impl FnOnce(&Transaction<'_>, u64) -> Result<T, InventoryError>,
    ) -> Result<T, InventoryError> {
        let now = self.clock.now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let known = tx
            .query_row("SELECT 1 FROM devices WHERE serial = ?1", [serial], |_| {
                Ok(())
            })
            .optional()?
            .is_some();
        if !known {
            return Err(InventoryError::UnknownDevice {
                serial: serial.to_string(),
            });
        }
        let value = f(&tx, now)?;
        tx.commit()?;
        Ok(value)
    }
}

/// Applies the raw key to a connection. The statement text is wiped afterwards; its error text is never shown.
fn apply_key(conn: &Connection, key: &[u8; kdf::KEY_LEN]) -> Result<(), InventoryError> {
    // Process-wide SQLCipher settings: no log lines on stderr; wipe SQLite's memory (decrypted pages, the key
    // statement) when freed. A build that does not know them ignores them; that is not worth failing on.
    let _ =
        conn.execute_batch("PRAGMA cipher_log_level = NONE; PRAGMA cipher_memory_security = ON;");
    let sql = kdf::key_pragma(key);
    conn.execute_batch(&sql)
        .map_err(|_| InventoryError::Database("the database refused the key statement".into()))
}

/// Tells a wrong key without changing any file.
///
/// A normal connection to a WAL database opens the `-wal` and `-shm` files before it can decrypt anything, and
/// may write reader marks into `-shm`. This check reads page 1 through a read-only `immutable=1` connection,
/// which SQLite treats like a temporary file: no locks, no WAL, no shared memory. Only SQLITE_NOTADB counts;
/// anything else is left for the real connection to report.
fn check_key(path: &Path, key: &[u8; kdf::KEY_LEN]) -> Result<(), InventoryError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(immutable_uri(path), flags)?;
    apply_key(&conn, key)?;
    match conn.query_row("PRAGMA schema_version", [], |r| r.get::<_, i64>(0)) {
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) => {
            Err(InventoryError::WrongKey)
        }
        _ => Ok(()),
    }
}

/// `file:<path>?immutable=1`, with every byte of the path but unreserved characters and `/` percent-encoded.
fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?immutable=1");
    uri
}

/// Makes the creation of the database and header files durable (their directory entries).
fn sync_parent_dir(path: &Path) -> Result<(), InventoryError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| InventoryError::Io {
            path: dir.to_path_buf(),
            source,
        })
}
