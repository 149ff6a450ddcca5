//! The random 32-byte inventory key in the OS keyring (the `keyring` crate: Secret Service on Linux).
//!
//! The key is stored as a password in standard base64, under service [`KEYRING_SERVICE`] and an account named after
//! the inventory id. Every call runs on a thread of its own: the Secret Service backend blocks on an internal
//! tokio runtime and would deadlock if called from a thread that is driving a tokio runtime; and a call that gets
//! no answer within two minutes fails instead of hanging.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use keyring::credential::CredentialPersistence;
use keyring::Entry;
use zeroize::Zeroizing;

use super::{random_key, Key, KeyError, KEY_LEN};

/// Keyring service name of Temper inventory keys.
pub const KEYRING_SERVICE: &str = "temper";

/// How long to wait for the keyring to answer one call.
const KEYRING_TIMEOUT: Duration = Duration::from_secs(120);

/// Generates a random inventory key, stores it in the OS keyring under `service`/`account` (replacing any key
/// already there) and returns it.
///
/// [`KeyError::NoKeyring`] (with how to provide a key instead) if no keyring is reachable.
pub fn store_keyring_key(service: &str, account: &str) -> Result<Key, KeyError> {
    let key = random_key();
    let encoded = Zeroizing::new(STANDARD.encode(key.as_slice()));
    let (service_owned, account_owned) = (service.to_string(), account.to_string());
    on_own_thread(move || {
        let entry = entry(&service_owned, &account_owned)?;
        entry
            .set_password(&encoded)
            .map_err(|e| map_error(e, &service_owned, &account_owned))
    })?;
    Ok(key)
}

/// Loads the inventory key stored under `service`/`account`.
///
/// [`KeyError::KeyringEntryMissing`] if there is none ("unlock it with the recovery key"),
/// [`KeyError::NoKeyring`] if no keyring is reachable.
pub fn load_keyring_key(service: &str, account: &str) -> Result<Key, KeyError> {
    let (service_owned, account_owned) = (service.to_string(), account.to_string());
    let encoded = on_own_thread(move || {
        let entry = entry(&service_owned, &account_owned)?;
        entry
            .get_password()
            .map(Zeroizing::new)
            .map_err(|e| map_error(e, &service_owned, &account_owned))
    })?;
    let invalid = || KeyError::KeyringEntryInvalid {
        service: service.to_string(),
        account: account.to_string(),
    };
    let bytes = Zeroizing::new(STANDARD.decode(encoded.trim()).map_err(|_| invalid())?);
    if bytes.len() != KEY_LEN {
        return Err(invalid());
    }
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    key.copy_from_slice(&bytes);
    Ok(key)
}

/// Deletes the inventory key stored under `service`/`account` (after a rekey, or when an inventory is removed).
///
/// [`KeyError::KeyringEntryMissing`] if there is none.
pub fn delete_keyring_key(service: &str, account: &str) -> Result<(), KeyError> {
    let (service_owned, account_owned) = (service.to_string(), account.to_string());
    on_own_thread(move || {
        let entry = entry(&service_owned, &account_owned)?;
        entry
            .delete_credential()
            .map_err(|e| map_error(e, &service_owned, &account_owned))
    })
}

fn entry(service: &str, account: &str) -> Result<Entry, KeyError> {
    // Without a native keystore compiled in, `keyring` silently falls back to an in-memory mock: a key stored
    // there would be lost when the process ends, so refuse it as "no keyring".
    let persistence = keyring::default::default_credential_builder().persistence();
    if !matches!(persistence, CredentialPersistence::UntilDelete) {
        return Err(KeyError::NoKeyring {
            detail: "this build of Temper has no persistent OS keyring support for this platform"
                .into(),
        });
    }
    Entry::new(service, account).map_err(|e| map_error(e, service, account))
}

/// Runs `work` on a thread of its own and waits at most [`KEYRING_TIMEOUT`] for it (a keyring waiting on an
/// unlock prompt nobody can see would otherwise hang Temper).
fn on_own_thread<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, KeyError> + Send + 'static,
) -> Result<T, KeyError> {
    let (done, answer) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("temper-keyring".into())
        .spawn(move || {
            let _ = done.send(work());
        })
        .map_err(|e| KeyError::Keyring {
            detail: format!("cannot start a thread: {e}"),
        })?;
    match answer.recv_timeout(KEYRING_TIMEOUT) {
        Ok(result) => result,
        Err(RecvTimeoutError::Timeout) => Err(KeyError::KeyringLocked {
            detail: format!(
                "no answer within {} s; an unlock prompt may be waiting",
                KEYRING_TIMEOUT.as_secs()
            ),
        }),
        Err(RecvTimeoutError::Disconnected) => Err(KeyError::Keyring {
            detail: "the keyring backend failed unexpectedly".into(),
        }),
    }
}

fn map_error(error: keyring::Error, service: &str, account: &str) -> KeyError {
    match error {
        keyring::Error::NoEntry => KeyError::KeyringEntryMissing {
            service: service.to_string(),
            account: account.to_string(),
        },
        keyring::Error::NoStorageAccess(e) => KeyError::KeyringLocked {
            detail: e.to_string(),
        },
        // The Secret Service backend reports "no D-Bus session", "no Secret Service on the bus" and every other
        // transport failure as a platform failure.
        keyring::Error::PlatformFailure(e) => KeyError::NoKeyring {
            detail: e.to_string(),
        },
        // A stored password that is not UTF-8 cannot be a Temper key; never show its bytes.
        keyring::Error::BadEncoding(_) => KeyError::KeyringEntryInvalid {
            service: service.to_string(),
            account: account.to_string(),
        },
        keyring::Error::Ambiguous(items) => KeyError::Keyring {
            detail: format!(
                "{} keyring entries match service {service:?}, account {account:?}; delete the extra ones",
                items.len()
            ),
        },
        other => KeyError::Keyring {
            detail: other.to_string(),
        },
    }
}
