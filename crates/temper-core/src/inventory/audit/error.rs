//! Audit trail errors. Every message says what to do; none ever contains a secret.

use std::path::PathBuf;

/// An audit trail operation failed, or the trail was found altered.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The trail was altered: an event was edited, deleted, reordered or forged, or the database is older than
    /// the signed head in the sidecar. `first_bad_seq` is the first event that cannot be trusted.
    #[error(
        "audit trail tampered at event #{first_bad_seq}: {what}\nhelp: do not trust the history from event \
         #{first_bad_seq} on; keep this copy for investigation and restore the inventory together with its \
         .audit sidecar from a backup you trust"
    )]
    Tampered {
        /// The first sequence number that is missing, altered or out of place.
        first_bad_seq: u64,
        /// What is wrong, for people.
        what: String,
    },
    /// The sidecar's signed head does not carry a valid MAC: it was edited or forged by someone without the
    /// audit key (or the key is not the one this inventory was signed with).
    #[error(
        "the audit sidecar was altered: {what}\nhelp: check that the right audit key (keyring entry or key file) \
         is in use; if it is, someone edited the .audit file: restore it together with the database from a \
         backup you trust"
    )]
    SidecarTampered {
        /// What is wrong, for people.
        what: String,
    },
    /// The trail has events but there is no signed head to check it against: the sidecar was deleted or replaced
    /// by one without a head, which would hide deleted last events.
    #[error(
        "the audit trail has {events} events but no signed head (the .audit sidecar is missing or unsigned)\n\
         help: restore the .audit file from the backup made with this database; if it is truly lost, review \
         `temper audit show` and sign the current head again, knowing that deleted last events cannot be ruled out"
    )]
    SidecarMissing {
        /// Number of events in the database.
        events: u64,
    },
    /// The sidecar file exists but cannot be understood.
    #[error(
        "the audit sidecar {} is invalid: {reason}\nhelp: the file may be damaged or edited; restore it together \
         with the database from a backup",
        path.display()
    )]
    InvalidSidecar {
        /// The sidecar file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Too many failed unlocks in a row: wait before the next attempt.
    #[error(
        "too many failed unlock attempts\nhelp: wait {retry_after_secs} s and try again with the right \
         passphrase; every failed attempt is recorded in the audit trail"
    )]
    TooManyAttempts {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// Reading or writing the sidecar failed.
    #[error(
        "audit file error on {}: {source}\nhelp: check the path, file permissions and free disk space",
        path.display()
    )]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The database failed while reading or writing the trail.
    #[error(
        "audit trail database error: {0}\nhelp: check free disk space and file permissions; if the file is \
         damaged, restore it from a backup"
    )]
    Database(String),
}

impl AuditError {
    /// True if the error means the trail or the sidecar was (or may have been) altered, as opposed to an I/O
    /// failure or a back-off.
    pub fn is_tampering(&self) -> bool {
        matches!(
            self,
            AuditError::Tampered { .. }
                | AuditError::SidecarTampered { .. }
                | AuditError::SidecarMissing { .. }
                | AuditError::InvalidSidecar { .. }
        )
    }
}

impl From<rusqlite::Error> for AuditError {
    fn from(error: rusqlite::Error) -> Self {
        AuditError::Database(error.to_string())
    }
}
