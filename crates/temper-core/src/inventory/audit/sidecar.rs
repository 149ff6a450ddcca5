//! The sidecar `<db>.audit`: the MAC'd head of the trail, kept outside the database, and the failed-unlock
//! counter with its back-off.
//!
//! Format (JSON): `{"format":1,"head":{"seq":10,"hash":"<hex>"},"head_mac":"<hex>","failed_unlocks":0,
//! "last_failed_unlock_at":0}`; `head` and `head_mac` are `null` until the first event is signed.
//!
//! The head is MAC'd; the failed-unlock fields are NOT (they are written when the key is not available, after a
//! wrong passphrase). Anyone who can write the file can reset the counter: it is evidence and a speed bump for
//! someone guessing at the prompt, not a defence against an attacker who copies the files and guesses offline.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{chain, AuditAction, AuditError, AuditHead, AuditKey, NewAuditEvent};

/// Version of the sidecar format.
pub const SIDECAR_FORMAT: u32 = 1;

/// Failures that cost nothing: the back-off starts after this many.
const FREE_FAILURES: u32 = 2;
/// Longest back-off.
const MAX_BACKOFF_SECS: u64 = 60;
/// Larger sidecars are refused unread.
const MAX_SIDECAR_BYTES: u64 = 64 * 1024;

/// The path of the sidecar of the database at `db`: `<db>.audit`.
pub fn sidecar_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".audit");
    PathBuf::from(name)
}

/// The content of the sidecar file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sidecar {
    /// [`SIDECAR_FORMAT`].
    pub format: u32,
    /// The newest event of the trail when it was last signed; `None` before the first.
    pub head: Option<AuditHead>,
    /// `HMAC-SHA256(audit key, "temper-audit-head-v1" ‖ seq ‖ hash)` of `head`.
    #[serde(with = "hex32_opt")]
    pub head_mac: Option<[u8; 32]>,
    /// Failed unlocks since the last successful one. Not MAC'd.
    pub failed_unlocks: u32,
    /// Time of the last failed unlock, seconds since the Unix epoch (0: none). Not MAC'd.
    pub last_failed_unlock_at: u64,
}

/// Failed unlocks taken out of the sidecar, to append to the trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailedUnlocks {
    /// How many.
    pub count: u32,
    /// When the last one happened, seconds since the Unix epoch.
    pub last_at: u64,
}

impl FailedUnlocks {
    /// The event recording them: action `failed-unlock`, outcome `failed`, detail `{"count", "last_at"}`.
    pub fn event(&self, actor: impl Into<String>) -> NewAuditEvent {
        NewAuditEvent::new(actor, AuditAction::FailedUnlock)
            .outcome("failed")
            .detail(json!({ "count": self.count, "last_at": self.last_at }))
    }
}

impl Default for Sidecar {
    fn default() -> Self {
        Sidecar::empty()
    }
}

impl Sidecar {
    /// A sidecar with no signed head and no failed unlocks.
    pub fn empty() -> Self {
        Sidecar {
            format: SIDECAR_FORMAT,
            head: None,
            head_mac: None,
            failed_unlocks: 0,
            last_failed_unlock_at: 0,
        }
    }

    /// A sidecar signing `head` with `key`, with no failed unlocks. Write it after each committed append.
    pub fn signed(head: &AuditHead, key: &AuditKey) -> Self {
        Sidecar {
            head: Some(*head),
            head_mac: Some(chain::head_mac(key, head.seq, &head.hash)),
            ..Sidecar::empty()
        }
    }

    /// The head, after checking its MAC with `key`. `None` if nothing was signed yet;
    /// [`AuditError::SidecarTampered`] if the MAC is missing or wrong.
    pub fn authentic_head(&self, key: &AuditKey) -> Result<Option<AuditHead>, AuditError> {
        match (&self.head, &self.head_mac) {
            (None, None) => Ok(None),
            (Some(head), Some(mac)) if chain::head_mac_ok(key, head.seq, &head.hash, mac) => {
                Ok(Some(*head))
            }
            (Some(head), _) => Err(AuditError::SidecarTampered {
                what: format!(
                    "the MAC of its signed head (event #{}) is missing or wrong",
                    head.seq
                ),
            }),
            (None, Some(_)) => Err(AuditError::SidecarTampered {
                what: "it has a head MAC but no head".to_string(),
            }),
        }
    }

    /// Takes the failed unlocks out (the counter goes back to 0), to record them with [`FailedUnlocks::event`]
    /// at a successful unlock. `None` if there were none.
    pub fn take_failed_unlocks(&mut self) -> Option<FailedUnlocks> {
        let taken = (self.failed_unlocks > 0).then_some(FailedUnlocks {
            count: self.failed_unlocks,
            last_at: self.last_failed_unlock_at,
        });
        self.failed_unlocks = 0;
        self.last_failed_unlock_at = 0;
        taken
    }

    /// Reads the sidecar at `path`; `Ok(None)` if there is no such file.
    pub fn read(path: &Path) -> Result<Option<Sidecar>, AuditError> {
        let io = |source| AuditError::Io {
            path: path.to_path_buf(),
            source,
        };
        let invalid = |reason: String| AuditError::InvalidSidecar {
            path: path.to_path_buf(),
            reason,
        };
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let mut text = String::new();
        file.take(MAX_SIDECAR_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(io)?;
        if text.len() as u64 > MAX_SIDECAR_BYTES {
            return Err(invalid(format!("larger than {MAX_SIDECAR_BYTES} bytes")));
        }
        let sidecar: Sidecar = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        if sidecar.format != SIDECAR_FORMAT {
            return Err(invalid(format!(
                "format {} is not {SIDECAR_FORMAT} (upgrade Temper if a newer one wrote it)",
                sidecar.format
            )));
        }
        Ok(Some(sidecar))
    }

    /// Replaces the file at `path` atomically: writes a temporary file beside it, fsyncs it, renames it over
    /// `path` and fsyncs the directory. A crash leaves either the old or the new content.
    pub fn write_atomic(&self, path: &Path) -> Result<(), AuditError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut tmp_name = path.as_os_str().to_owned();
        tmp_name.push(format!(
            ".tmp.{}.{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let tmp = PathBuf::from(tmp_name);
        let mut text = serde_json::to_string(self).map_err(|e| AuditError::InvalidSidecar {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        text.push('\n');
        let written = (|| {
            let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if let Err(source) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(AuditError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|source| AuditError::Io {
                path: dir.to_path_buf(),
                source,
            })
    }
}

/// Counts one failed unlock at time `now` in the sidecar at `path` (created if missing) and returns the new
/// content. Needs no key: the counter is not MAC'd. Read-modify-write: two processes failing at the same instant
/// may count once.
pub fn record_failed_unlock(path: &Path, now: u64) -> Result<Sidecar, AuditError> {
    let mut sidecar = Sidecar::read(path)?.unwrap_or_default();
    sidecar.failed_unlocks = sidecar.failed_unlocks.saturating_add(1);
    sidecar.last_failed_unlock_at = now;
    sidecar.write_atomic(path)?;
    Ok(sidecar)
}

/// How long to wait after `failed` failed unlocks in a row: nothing for the first 2, then 1 s, 2 s, 4 s...
/// doubling up to 60 s.
pub fn unlock_backoff(failed: u32) -> Duration {
    if failed <= FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = failed - FREE_FAILURES - 1;
    let secs = if doublings >= 6 {
        MAX_BACKOFF_SECS
    } else {
        (1u64 << doublings).min(MAX_BACKOFF_SECS)
    };
    Duration::from_secs(secs)
}

/// [`AuditError::TooManyAttempts`] if an unlock at `now` comes too soon after the last failed one. A last failure
/// dated in the future (clock change) waits at most one full back-off.
pub fn check_backoff(sidecar: Option<&Sidecar>, now: u64) -> Result<(), AuditError> {
    let Some(sidecar) = sidecar else {
        return Ok(());
    };
    let wait = unlock_backoff(sidecar.failed_unlocks).as_secs();
    let ready_at = sidecar.last_failed_unlock_at.saturating_add(wait);
    if wait == 0 || now >= ready_at {
        return Ok(());
    }
    Err(AuditError::TooManyAttempts {
        retry_after_secs: (ready_at - now).min(wait),
    })
}

/// Serde helpers: `Option<[u8; 32]>` as 64 lowercase hex digits or `null`.
mod hex32_opt {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        bytes: &Option<[u8; 32]>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => serializer.serialize_some(&hex::encode(bytes)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<[u8; 32]>, D::Error> {
        let Some(text) = Option::<String>::deserialize(deserializer)? else {
            return Ok(None);
        };
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&text, &mut bytes)
            .map_err(|e| D::Error::custom(format!("expected 64 hex digits: {e}")))?;
        Ok(Some(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000;

    #[test]
    fn audit_unlock_backoff_grows_and_caps() {
        let secs: Vec<u64> = (0..=12).map(|n| unlock_backoff(n).as_secs()).collect();
        assert_eq!(secs, vec![0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
        assert_eq!(unlock_backoff(u32::MAX), Duration::from_secs(60));
        check_backoff(None, T0).unwrap();
        let side = Sidecar {
            failed_unlocks: 20,
            last_failed_unlock_at: T0 + 1000,
            ..Sidecar::empty()
        };
        // A failure dated in the future never makes the wait longer than one full back-off.
        assert!(matches!(
            check_backoff(Some(&side), T0),
            Err(AuditError::TooManyAttempts {
                retry_after_secs: 60
            })
        ));
        check_backoff(Some(&side), T0 + 1060).unwrap();
    }

    #[test]
    fn audit_sidecar_round_trips_and_never_holds_the_key() {
        let key = AuditKey::from_bytes([0xab; 32]);
        let head = AuditHead {
            seq: 3,
            hash: [1; 32],
        };
        let side = Sidecar::signed(&head, &key);
        let text = serde_json::to_string(&side).unwrap();
        assert!(!text.contains(&hex::encode([0xab; 32])), "{text}");
        assert_eq!(serde_json::from_str::<Sidecar>(&text).unwrap(), side);
        assert_eq!(side.authentic_head(&key).unwrap(), Some(head));
        let other = AuditKey::from_bytes([0xac; 32]);
        assert!(side.authentic_head(&other).is_err());
    }

    #[test]
    fn audit_sidecar_write_is_atomic_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = sidecar_path(&dir.path().join("inv.db"));
        assert_eq!(Sidecar::read(&path).unwrap(), None);
        record_failed_unlock(&path, T0).unwrap();
        Sidecar::empty().write_atomic(&path).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["inv.db.audit".to_string()]);
        std::fs::write(&path, "{\"format\":2}").unwrap();
        assert!(matches!(
            Sidecar::read(&path),
            Err(AuditError::InvalidSidecar { .. })
        ));
    }
}
