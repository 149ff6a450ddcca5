//! The local inventory: one SQLCipher database keyed with the random database key of a [`KeyBundle`], whose key
//! header `<path>.keys` wraps the bundle for each key source (see [`super::keys`]); secret columns are sealed with
//! the bundle's data key; every security-relevant change appends to the audit trail (see [`super::audit`]) whose
//! signed head lives in the sidecar `<path>.audit`.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};

use super::audit::{self, AuditAction, AuditHead, AuditKey, NewAuditEvent, Sidecar};
use super::kdf;
use super::keys::{self, KeyBundle, KeyError, KeyHeader, KeySource, RecoveryKey};
use super::migrations::{self, Migration, MIGRATIONS};
use super::{Clock, InventoryError, SystemClock};
use crate::Secret;

mod backup;
mod certs;
mod records;
mod rekey;
mod sealing;

pub use backup::BackupInfo;

/// The inventory in a SQLCipher database file, with its key header `<path>.kdf` beside it.
///
/// Every write is one transaction committed with `synchronous=FULL` in WAL mode: when a method returns, the
/// change is on disk and visible to any other connection.
pub struct SqlCipherInventory {
    conn: Connection,
    path: PathBuf,
    clock: Box<dyn Clock>,
    keys: KeyBundle,
    header: KeyHeader,
    audit_key: AuditKey,
    actor: String,
    /// `Some(message)` when the audit trail failed verification at open: every write is refused then.
    tampered: Option<String>,
}

impl fmt::Debug for SqlCipherInventory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlCipherInventory")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqlCipherInventory {
    /// Creates a new inventory at `path` unlocked by `passphrase`, and drops its recovery key (tests and
    /// scripts that never need one). See [`SqlCipherInventory::create_keyed`].
    pub fn create(path: impl AsRef<Path>, passphrase: &Secret) -> Result<Self, InventoryError> {
        let source = KeySource::Passphrase(passphrase.clone());
        Self::create_with(path.as_ref(), &source, &default_actor(), MIGRATIONS).map(|(inv, _)| inv)
    }

    /// Creates a new inventory at `path` (with `<path>.keys` and `<path>.audit`) unlocked by `source`, and returns
    /// it with its one-time recovery key, which unlocks it too (show it to the user once; Temper keeps no copy).
    ///
    /// Refuses if any of the files exists ([`InventoryError::AlreadyExists`]) or if zxcvbn scores a passphrase
    /// below 3 ([`InventoryError::WeakPassphrase`]). On failure nothing is left behind.
    pub fn create_keyed(
        path: impl AsRef<Path>,
        source: &KeySource,
        actor: &str,
    ) -> Result<(Self, RecoveryKey), InventoryError> {
        Self::create_with(path.as_ref(), source, actor, MIGRATIONS)
    }

    pub(crate) fn create_with(
        path: &Path,
        source: &KeySource,
        actor: &str,
        migrations: &[Migration],
    ) -> Result<(Self, RecoveryKey), InventoryError> {
        let header_path = keys::header_path(path);
        let sidecar_path = audit::sidecar_path(path);
        for existing in [path, header_path.as_path(), sidecar_path.as_path()] {
            if existing.exists() {
                return Err(InventoryError::AlreadyExists {
                    path: existing.to_path_buf(),
                });
            }
        }
        let bundle = KeyBundle::generate();
        let recovery = RecoveryKey::generate();
        let header = KeyHeader::create(&bundle, source, &recovery)?;
        header.write_atomic(&header_path)?;
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
            let mut inventory =
                Self::connect(path, bundle.clone(), header.clone(), actor, migrations)?;
            let event = NewAuditEvent::new(actor, AuditAction::InventoryCreated)
                .detail(serde_json::json!({ "key_source": source.kind().as_str() }));
            inventory.append_event(&event)?;
            sync_parent_dir(path)?;
            Ok(inventory)
        })();
        if created.is_err() {
            // Remove only what this call created.
            if db_created {
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let mut name = path.as_os_str().to_owned();
                    name.push(suffix);
                    let _ = std::fs::remove_file(PathBuf::from(name));
                }
                let _ = std::fs::remove_file(&sidecar_path);
            }
            let _ = std::fs::remove_file(&header_path);
        }
        created.map(|inventory| (inventory, recovery))
    }

    /// Opens the inventory at `path` with `passphrase`. See [`SqlCipherInventory::open_keyed`].
    pub fn open(path: impl AsRef<Path>, passphrase: &Secret) -> Result<Self, InventoryError> {
        let source = KeySource::Passphrase(passphrase.clone());
        Self::open_with(path.as_ref(), &source, &default_actor(), MIGRATIONS)
    }

    /// Opens the inventory at `path` with `source`, migrating its schema to [`super::SCHEMA_VERSION`], verifying
    /// its audit trail and finishing an interrupted rekey.
    ///
    /// [`InventoryError::NotFound`] if there is no database; [`InventoryError::WrongKey`] if `source` opens no
    /// key slot (the failed attempt is counted in the sidecar and audited at the next successful unlock);
    /// [`InventoryError::TooManyAttempts`] while the back-off after repeated failures runs. A tampered audit trail
    /// does not stop the open (so that `temper audit verify` can report it) but refuses every write.
    pub fn open_keyed(
        path: impl AsRef<Path>,
        source: &KeySource,
        actor: &str,
    ) -> Result<Self, InventoryError> {
        Self::open_with(path.as_ref(), source, actor, MIGRATIONS)
    }

    pub(crate) fn open_with(
        path: &Path,
        source: &KeySource,
        actor: &str,
        migrations: &[Migration],
    ) -> Result<Self, InventoryError> {
        if !path.is_file() {
            return Err(InventoryError::NotFound {
                path: path.to_path_buf(),
            });
        }
        let now = SystemClock.now();
        let sidecar_path = audit::sidecar_path(path);
        let mut sidecar = Sidecar::read(&sidecar_path)?;
        audit::check_backoff(sidecar.as_ref(), now)?;
        let header = KeyHeader::read(&keys::header_path(path))?;
        let bundle = match header.unlock(source) {
            Ok(bundle) => bundle,
            Err(KeyError::WrongKey) => {
                audit::record_failed_unlock(&sidecar_path, now)?;
                return Err(InventoryError::WrongKey);
            }
            Err(other) => return Err(other.into()),
        };
        check_key(path, bundle.database_key())?;
        let mut inventory = Self::connect(path, bundle, header, actor, migrations)?;
        match audit::verify(&inventory.conn, &inventory.audit_key, sidecar.as_ref()) {
            Ok(trail) => {
                if let Some(failed) = sidecar.as_mut().and_then(Sidecar::take_failed_unlocks) {
                    inventory.append_event(&failed.event(actor))?;
                } else if trail.sidecar_behind {
                    if let Some(head) = trail.head {
                        inventory.sign_head(&head)?;
                    }
                }
            }
            Err(error) if error.is_tampering() => inventory.tampered = Some(error.to_string()),
            Err(error) => return Err(error.into()),
        }
        if inventory.tampered.is_none() {
            inventory.resume_rekey()?;
        }
        Ok(inventory)
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
        keys: KeyBundle,
        header: KeyHeader,
        actor: &str,
        migrations: &[Migration],
    ) -> Result<Self, InventoryError> {
        let key = keys.database_key();
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
        let audit_key = AuditKey::from_bytes(*keys.audit_key());
        Ok(SqlCipherInventory {
            conn,
            path: path.to_path_buf(),
            clock: Box::new(SystemClock),
            keys,
            header,
            audit_key,
            actor: actor.to_string(),
            tampered: None,
        })
    }

    /// The actor recorded in audit events of this handle.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// The key header (its slots tell which key sources unlock this inventory).
    pub fn key_header(&self) -> &KeyHeader {
        &self.header
    }

    /// Refuses writes while the audit trail is known to be tampered.
    fn ensure_trusted(&self) -> Result<(), InventoryError> {
        match &self.tampered {
            Some(message) => Err(InventoryError::AuditTampered(message.clone())),
            None => Ok(()),
        }
    }

    /// Runs `f` in an IMMEDIATE transaction after checking that the device exists, appends `event` (if any) to
    /// the audit trail in the same transaction, commits, then signs the new head into the sidecar.
    fn write_for<T>(
        &mut self,
        serial: &str,
        event: Option<NewAuditEvent>,
        f: impl FnOnce(&Transaction<'_>, u64, &KeyBundle) -> Result<T, InventoryError>,
    ) -> Result<T, InventoryError> {
        self.ensure_trusted()?;
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
        let value = f(&tx, now, &self.keys)?;
        let head = match &event {
            Some(event) => Some(audit::append(&tx, &self.audit_key, event, now)?),
            None => None,
        };
        tx.commit()?;
        if let Some(head) = head {
            self.sign_head(&AuditHead {
                seq: head.seq,
                hash: head.hash,
            })?;
        }
        Ok(value)
    }

    /// Appends one audit event in its own transaction and signs the new head.
    pub(crate) fn append_event(&mut self, event: &NewAuditEvent) -> Result<(), InventoryError> {
        self.ensure_trusted()?;
        let now = self.clock.now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let appended = audit::append(&tx, &self.audit_key, event, now)?;
        tx.commit()?;
        self.sign_head(&AuditHead {
            seq: appended.seq,
            hash: appended.hash,
        })
    }

    /// Writes the sidecar with `head` signed by the audit key.
    fn sign_head(&self, head: &AuditHead) -> Result<(), InventoryError> {
        Sidecar::signed(head, &self.audit_key).write_atomic(&audit::sidecar_path(&self.path))?;
        Ok(())
    }
}

/// The actor of audit events when the caller names none: the login user.
pub fn default_actor() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|name| !name.is_empty())
        .or_else(|| {
            // A desktop app started without a login environment (a launcher, a test driver) still has a user.
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|user| user.name)
        })
        .unwrap_or_else(|| "unknown-user".to_string())
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
