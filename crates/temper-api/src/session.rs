//! The inventory as the app holds it: locked or unlocked, and locked again after a quiet spell.
//!
//! Unlocking opens the one SQLCipher connection (see [`SharedInventory`]); locking drops it, which zeroizes
//! the keys it holds. The app locks the inventory after [`Session::idle_lock`] without a call, unless a
//! commissioning run still uses it (a run is never cut off by the idle lock).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use temper_core::inventory::audit::{self, Sidecar};
use temper_core::inventory::keys::{self, KeyHeader, KeySource, SlotKind};
use temper_core::inventory::{Clock, InventoryError, SqlCipherInventory, SystemClock};
use temper_core::Secret;
use ts_rs::TS;

use crate::error::{ApiError, ErrorCode};
use crate::shared::SharedInventory;

/// How the person unlocks (or protects a new) inventory.
#[derive(Deserialize, TS)]
#[serde(rename_all = "kebab-case", tag = "method")]
pub enum Unlock {
    /// The key kept in the desktop's keyring (Secret Service).
    Keyring,
    /// A passphrase typed by the person.
    Passphrase {
        /// The passphrase (zeroized after use).
        #[ts(type = "string")]
        passphrase: SecretInput,
    },
}

impl Unlock {
    pub(crate) fn source(self) -> KeySource {
        match self {
            Unlock::Keyring => KeySource::os_keyring(),
            Unlock::Passphrase { passphrase } => KeySource::Passphrase(passphrase.0),
        }
    }
}

/// A secret typed by the person, as it arrives from the window: held as a [`Secret`] from the moment it is
/// parsed (the intermediate string is zeroized), never serialized back.
pub struct SecretInput(pub Secret);

impl<'de> Deserialize<'de> for SecretInput {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = zeroize::Zeroizing::new(String::deserialize(deserializer)?);
        Ok(SecretInput(Secret::new(text.as_str())))
    }
}

/// Where the inventory stands, for the unlock screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct LockStatus {
    /// The inventory file.
    pub path: String,
    /// False until the first inventory is created.
    pub exists: bool,
    /// True while unlocked.
    pub unlocked: bool,
    /// True when the keyring can unlock it (so the screen offers that first).
    pub keyring_slot: bool,
    /// Seconds of inactivity after which the app locks it again.
    #[ts(type = "number")]
    pub idle_lock_secs: u64,
}

/// A passphrase's strength, for the meter on the create screen. Scores below 3 are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Strength {
    /// 0 (guessed at once) to 4 (very hard to guess).
    pub score: u8,
    /// True when the inventory would accept it.
    pub acceptable: bool,
    /// What would make it stronger, in plain words.
    pub feedback: Vec<String>,
}

/// Scores a passphrase the way inventory creation will (zxcvbn, score 3 of 4 needed).
pub fn passphrase_strength(passphrase: &Secret) -> Strength {
    let entropy = zxcvbn::zxcvbn(passphrase.expose(), &["temper", "inventory", "iot"]);
    let score = u8::from(entropy.score());
    let mut feedback = Vec::new();
    if let Some(f) = entropy.feedback() {
        feedback.extend(f.warning().map(|w| w.to_string()));
        feedback.extend(f.suggestions().iter().map(|s| s.to_string()));
    }
    Strength {
        score,
        acceptable: score >= 3,
        feedback,
    }
}

struct State {
    inventory: Option<SharedInventory>,
    last_activity: Instant,
}

/// The app's hold on the inventory.
pub struct Session {
    path: PathBuf,
    actor: String,
    idle_lock: Duration,
    state: Mutex<State>,
}

impl Session {
    /// A locked session on the inventory at `path`.
    pub fn new(path: PathBuf, actor: String, idle_lock: Duration) -> Self {
        Session {
            path,
            actor,
            idle_lock,
            state: Mutex::new(State {
                inventory: None,
                last_activity: Instant::now(),
            }),
        }
    }

    /// The inventory file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How long a quiet app stays unlocked.
    pub fn idle_lock(&self) -> Duration {
        self.idle_lock
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where the inventory stands.
    pub fn status(&self) -> LockStatus {
        let keyring_slot = KeyHeader::read(&keys::header_path(&self.path))
            .map(|h| h.slot_kinds().contains(&SlotKind::Keyring))
            .unwrap_or(false);
        LockStatus {
            path: self.path.display().to_string(),
            exists: SqlCipherInventory::exists(&self.path),
            unlocked: self.state().inventory.is_some(),
            keyring_slot,
            idle_lock_secs: self.idle_lock.as_secs(),
        }
    }

    /// Creates the inventory and leaves it unlocked. Returns the recovery key, to be shown once.
    pub fn create(&self, unlock: Unlock) -> Result<Secret, ApiError> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                ApiError::new(
                    ErrorCode::Internal,
                    format!("cannot create {}: {e}", dir.display()),
                )
            })?;
        }
        let source = unlock.source();
        let (inventory, recovery) =
            SqlCipherInventory::create_keyed(&self.path, &source, &self.actor)?;
        let mut state = self.state();
        state.inventory = Some(SharedInventory::new(inventory));
        state.last_activity = Instant::now();
        Ok(recovery.to_display_string())
    }

    /// Opens the inventory. A wrong key is counted; repeated wrong keys make the next try wait: the error then
    /// carries [`ApiError::retry_after_secs`] (also on the wrong key that started the wait, so the window can
    /// count down at once).
    pub fn unlock(&self, unlock: Unlock) -> Result<(), ApiError> {
        let inventory = SqlCipherInventory::open_keyed(&self.path, &unlock.source(), &self.actor)
            .map_err(|e| self.with_backoff(e))?;
        let mut state = self.state();
        state.inventory = Some(SharedInventory::new(inventory));
        state.last_activity = Instant::now();
        Ok(())
    }

    /// The error for a failed unlock, with the back-off the inventory's sidecar now asks for (if any).
    fn with_backoff(&self, error: InventoryError) -> ApiError {
        let error = ApiError::from(error);
        if error.code != ErrorCode::WrongKey {
            return error;
        }
        let sidecar = Sidecar::read(&audit::sidecar_path(&self.path))
            .ok()
            .flatten();
        match audit::check_backoff(sidecar.as_ref(), SystemClock.now()) {
            Err(audit::AuditError::TooManyAttempts { retry_after_secs }) => {
                error.retry_after(retry_after_secs)
            }
            _ => error,
        }
    }

    /// Replaces the inventory on disk while nothing uses it (a restore): refused unless unlocked (the person
    /// proved they hold the current key) and no run holds the inventory. The connection is closed before
    /// `swap` runs (which gets the inventory path and the actor); the inventory `swap` returns is kept
    /// unlocked. If `swap` fails the session stays locked.
    pub(crate) fn swap_inventory(
        &self,
        swap: impl FnOnce(&Path, &str) -> Result<SqlCipherInventory, ApiError>,
    ) -> Result<(), ApiError> {
        let mut state = self.state();
        let Some(current) = state.inventory.as_ref() else {
            return Err(ApiError::locked());
        };
        if current.in_use() {
            return Err(ApiError::new(
                ErrorCode::Busy,
                "A device is being secured with this inventory.",
            )
            .help("Wait until every run has finished, then restore."));
        }
        state.inventory = None;
        let inventory = swap(&self.path, &self.actor)?;
        state.inventory = Some(SharedInventory::new(inventory));
        state.last_activity = Instant::now();
        Ok(())
    }

    /// Locks now. Runs in progress keep their handle until they end.
    pub fn lock(&self) {
        self.state().inventory = None;
    }

    /// The unlocked inventory (and counts as activity), or [`ErrorCode::Locked`].
    pub fn inventory(&self) -> Result<SharedInventory, ApiError> {
        let mut state = self.state();
        state.last_activity = Instant::now();
        state.inventory.clone().ok_or_else(ApiError::locked)
    }

    /// Locks the inventory if nothing used it for [`Session::idle_lock`] and no run holds it. True if it locked.
    pub fn lock_if_idle(&self, now: Instant) -> bool {
        let mut state = self.state();
        let quiet = now.saturating_duration_since(state.last_activity) >= self.idle_lock;
        let busy = state
            .inventory
            .as_ref()
            .is_some_and(SharedInventory::in_use);
        if quiet && !busy && state.inventory.is_some() {
            state.inventory = None;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passphrase() -> Unlock {
        Unlock::Passphrase {
            passphrase: SecretInput(Secret::new("correct horse battery staple quarry")),
        }
    }

    /// Guards the idle lock: a quiet app locks, a running job keeps it open, activity postpones it.
    #[test]
    fn idle_lock_respects_activity_and_running_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let session = Session::new(
            dir.path().join("inv.db"),
            "test".into(),
            Duration::from_secs(60),
        );
        assert!(!session.status().exists);
        let recovery = session.create(passphrase()).expect("create");
        assert!(!recovery.expose().is_empty());
        assert!(session.status().unlocked);
        let later = Instant::now() + Duration::from_secs(61);
        let job = session.inventory().unwrap();
        assert!(
            !session.lock_if_idle(later),
            "a running job keeps the inventory open"
        );
        drop(job);
        assert!(
            !session.lock_if_idle(Instant::now()),
            "not quiet long enough"
        );
        assert!(
            session.lock_if_idle(later + Duration::from_secs(1)),
            "quiet: locks"
        );
        assert_eq!(session.inventory().unwrap_err().code, ErrorCode::Locked);
        session
            .unlock(passphrase())
            .expect("the same passphrase opens it again");
        let wrong = Unlock::Passphrase {
            passphrase: SecretInput(Secret::new("not the passphrase at all")),
        };
        session.lock();
        assert_eq!(session.unlock(wrong).unwrap_err().code, ErrorCode::WrongKey);
    }

    /// Guards the unlock screen's countdown: the wrong key that starts a back-off already says how long to
    /// wait, and a try during the wait is "too many attempts" with the seconds left. Core's back-off is counted
    /// in whole seconds, so earlier failures are dated long ago and the checked wait is 8 s (7 if a second
    /// boundary passes).
    #[test]
    fn wrong_keys_carry_the_back_off_the_next_try_must_wait() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("inv.db");
        let session = Session::new(db.clone(), "test".into(), Duration::from_secs(60));
        session.create(passphrase()).expect("create");
        session.lock();
        let wrong = || Unlock::Passphrase {
            passphrase: SecretInput(Secret::new("not the passphrase at all")),
        };
        for _ in 0..2 {
            let e = session.unlock(wrong()).unwrap_err();
            assert_eq!((e.code, e.retry_after_secs), (ErrorCode::WrongKey, None));
        }
        let long_ago = SystemClock.now() - 3600;
        for _ in 0..3 {
            audit::record_failed_unlock(&audit::sidecar_path(&db), long_ago).unwrap();
        }
        let sixth = session.unlock(wrong()).unwrap_err();
        assert_eq!(sixth.code, ErrorCode::WrongKey);
        assert!(matches!(sixth.retry_after_secs, Some(7..=8)), "{sixth:?}");
        let early = session.unlock(passphrase()).unwrap_err();
        assert_eq!(early.code, ErrorCode::TooManyAttempts);
        assert!(matches!(early.retry_after_secs, Some(6..=8)), "{early:?}");
        assert!(!early.message.contains("help:"), "{early:?}");
    }

    #[test]
    fn strength_meter_matches_the_inventory_rule() {
        assert!(!passphrase_strength(&Secret::new("password1")).acceptable);
        let strong = passphrase_strength(&Secret::new("correct horse battery staple quarry"));
        assert!(strong.acceptable && strong.score >= 3, "{strong:?}");
    }
}
