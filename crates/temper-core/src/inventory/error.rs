//! Inventory errors. Every message says what to do, and none ever contains a secret.

use std::path::PathBuf;

/// An inventory operation failed.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// The passphrase does not decrypt the inventory (SQLite reported "file is not a database").
    #[error(
        "wrong inventory key\nhelp: use the passphrase, key file or keyring this inventory was created with, or its \
         recovery key; nothing in the inventory was changed (the failed attempt is counted and audited)"
    )]
    WrongKey,
    /// The passphrase offered for a new inventory is too easy to guess.
    #[error(
        "the inventory passphrase is too weak: {reason}\nhelp: choose a longer passphrase, e.g. four or more \
         unrelated words; it protects every device credential"
    )]
    WeakPassphrase {
        /// Why, with suggestions (from zxcvbn). Never contains the passphrase.
        reason: String,
    },
    /// `create` found an inventory (or its key header) already there.
    #[error(
        "an inventory already exists at {}\nhelp: open it instead, or choose another path with --inventory; \
         Temper never overwrites an inventory (it holds the only copy of device credentials)",
        path.display()
    )]
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// `open` found no inventory.
    #[error(
        "no inventory at {}\nhelp: run `temper commission` to create one, or pass --inventory",
        path.display()
    )]
    NotFound {
        /// The missing database file.
        path: PathBuf,
    },
    /// The key header beside the database (`<db>.kdf`) is missing or unreadable.
    #[error(
        "cannot use the inventory key header {}: {reason}\nhelp: the database cannot be opened without this \
         file; restore it (together with the database) from a backup",
        path.display()
    )]
    KdfHeader {
        /// The header file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The inventory was written by a newer Temper with a schema this one does not know.
    #[error(
        "the inventory has schema version {found}, this Temper knows up to {supported}\nhelp: upgrade Temper; \
         the inventory was left unchanged"
    )]
    SchemaTooNew {
        /// Schema version found in the database.
        found: u32,
        /// Newest schema version this build knows.
        supported: u32,
    },
    /// A write named a device that is not in the inventory.
    #[error(
        "device {serial} is not in the inventory\nhelp: identify the device first (it is recorded when a plan \
         starts), or check the serial number"
    )]
    UnknownDevice {
        /// The serial asked for.
        serial: String,
    },
    /// `activate_pending` found no pending credential.
    #[error(
        "device {serial} has no pending credential for {store}\nhelp: a new credential must be stored as \
         pending before it is sent to the device; re-run the credential rotation step"
    )]
    NoPending {
        /// The device.
        serial: String,
        /// The credential store.
        store: String,
    },
    /// The database failed (disk full, locked, damaged...). Never contains a secret.
    #[error(
        "inventory database error: {0}\nhelp: check free disk space and file permissions; if the file is \
         damaged, restore it from a backup"
    )]
    Database(String),
    /// A key source or the key header failed (keyring unreachable, key file permissions, recovery key typo...).
    #[error(transparent)]
    Key(super::keys::KeyError),
    /// The audit trail or its sidecar failed (other than tampering found at open, see `AuditTampered`).
    #[error(transparent)]
    Audit(super::audit::AuditError),
    /// The audit trail failed verification when the inventory was opened: writes are refused.
    #[error("{0}\nhelp: nothing can be changed in this inventory until it is restored from a trusted backup \
             (`temper inventory restore FILE`); `temper audit verify` shows the problem")]
    AuditTampered(String),
    /// `put_station_ca` found a station CA already.
    #[error("this inventory has a station CA already\nhelp: Temper never replaces a CA that may have signed device \
             certificates; use another inventory (--inventory) for another CA")]
    CaExists,
    /// A backup file is damaged, not a Temper backup, or does not match the key offered.
    #[error("{message}\nhelp: {help}")]
    Backup {
        /// What is wrong.
        message: String,
        /// What to do.
        help: String,
    },
    /// Reading or writing an inventory file failed.
    #[error("inventory file error on {}: {source}\nhelp: check the path, file permissions and free disk space", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl From<super::keys::KeyError> for InventoryError {
    fn from(error: super::keys::KeyError) -> Self {
        use super::keys::KeyError;
        match error {
            KeyError::WrongKey => InventoryError::WrongKey,
            KeyError::WeakPassphrase { reason } => InventoryError::WeakPassphrase { reason },
            other => InventoryError::Key(other),
        }
    }
}

impl From<super::audit::AuditError> for InventoryError {
    fn from(error: super::audit::AuditError) -> Self {
        InventoryError::Audit(error)
    }
}

impl From<rusqlite::Error> for InventoryError {
    fn from(error: rusqlite::Error) -> Self {
        if error.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) {
            return InventoryError::WrongKey;
        }
        InventoryError::Database(error.to_string())
    }
}

impl From<serde_json::Error> for InventoryError {
    fn from(error: serde_json::Error) -> Self {
        InventoryError::Database(format!("stored JSON is invalid: {error}"))
    }
}
