//! The inventory key hierarchy.
//!
//! A random [`KeyBundle`] holds the keys that protect the data: the data key seals every secret column with
//! [`seal`] (so a later server backend can store the very same ciphertext), the database key is the raw
//! SQLCipher key, and the audit key MACs the audit trail. The bundle never touches the disk in plaintext: the
//! [`KeyHeader`] beside the database (`<db>.keys`, see [`header_path`]) stores it wrapped once per key slot, each
//! slot under its own key-encryption key derived from a [`KeySource`]:
//!
//! - the OS keyring (Secret Service on Linux), holding a random 32-byte inventory key;
//! - a passphrase, stretched with Argon2id (the parameters of [`super::kdf`]);
//! - a key file with owner-only permissions ([`read_key_file`], [`create_key_file`]) for headless stations;
//! - the one-time [`RecoveryKey`], printed at `temper inventory init`, for when the keyring is lost.
//!
//! Rekeying re-wraps the bundle with [`KeyHeader::rewrapped`].

use std::fmt;
use std::path::PathBuf;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::Secret;

mod error;
mod header;
mod keyfile;
mod os_keyring;
mod recovery;
mod slot;

pub use error::KeyError;
pub use header::{header_path, KeyHeader, KEY_HEADER_FORMAT};
pub use keyfile::{create_key_file, read_key_file};
pub use os_keyring::{delete_keyring_key, load_keyring_key, store_keyring_key, KEYRING_SERVICE};
pub use recovery::RecoveryKey;
pub use slot::SlotKind;

/// Length in bytes of every key of the hierarchy (256 bits).
pub const KEY_LEN: usize = 32;
/// Length in bytes of an XChaCha20-Poly1305 nonce.
pub const NONCE_LEN: usize = 24;
/// Length in bytes of the Poly1305 tag appended to every ciphertext.
pub const TAG_LEN: usize = 16;
/// First byte of every [`seal`]ed value: the format version.
pub const SEAL_VERSION: u8 = 1;

/// A 256-bit key, zeroized when dropped.
pub type Key = Zeroizing<[u8; KEY_LEN]>;

/// The three random keys that protect an inventory. Zeroized when dropped; `Debug` never shows them.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct KeyBundle {
    data_key: [u8; KEY_LEN],
    database_key: [u8; KEY_LEN],
    audit_key: [u8; KEY_LEN],
}

impl KeyBundle {
    /// Three fresh random keys from the operating system's CSPRNG.
    pub fn generate() -> KeyBundle {
        let mut bundle = KeyBundle {
            data_key: [0; KEY_LEN],
            database_key: [0; KEY_LEN],
            audit_key: [0; KEY_LEN],
        };
        let mut rng = rand::rngs::OsRng;
        rng.fill_bytes(&mut bundle.data_key);
        rng.fill_bytes(&mut bundle.database_key);
        rng.fill_bytes(&mut bundle.audit_key);
        bundle
    }

    /// The same database and audit keys with a fresh random data key (for a rekey that re-seals every secret).
    pub fn with_new_data_key(&self) -> KeyBundle {
        let mut bundle = self.clone();
        rand::rngs::OsRng.fill_bytes(&mut bundle.data_key);
        bundle
    }

    /// The key that [`seal`]s every secret column.
    pub fn data_key(&self) -> &[u8; KEY_LEN] {
        &self.data_key
    }

    /// The raw SQLCipher key of the database.
    pub fn database_key(&self) -> &[u8; KEY_LEN] {
        &self.database_key
    }

    /// The key that MACs the audit trail.
    pub fn audit_key(&self) -> &[u8; KEY_LEN] {
        &self.audit_key
    }

    /// The 96-byte serialization that key slots wrap: data, database and audit key, in that order.
    pub(crate) fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(3 * KEY_LEN));
        out.extend_from_slice(&self.data_key);
        out.extend_from_slice(&self.database_key);
        out.extend_from_slice(&self.audit_key);
        out
    }

    /// Parses [`KeyBundle::to_bytes`] output; `None` if the length is wrong.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<KeyBundle> {
        if bytes.len() != 3 * KEY_LEN {
            return None;
        }
        let mut bundle = KeyBundle {
            data_key: [0; KEY_LEN],
            database_key: [0; KEY_LEN],
            audit_key: [0; KEY_LEN],
        };
        bundle.data_key.copy_from_slice(&bytes[..KEY_LEN]);
        bundle
            .database_key
            .copy_from_slice(&bytes[KEY_LEN..2 * KEY_LEN]);
        bundle.audit_key.copy_from_slice(&bytes[2 * KEY_LEN..]);
        Some(bundle)
    }
}

impl fmt::Debug for KeyBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyBundle(<redacted>)")
    }
}

/// Where the key that unlocks an inventory comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A passphrase, stretched with Argon2id.
    Passphrase(Secret),
    /// A key file with owner-only permissions (see [`read_key_file`]).
    KeyFile(PathBuf),
    /// A random inventory key kept in the OS keyring (Secret Service on Linux).
    ///
    /// An empty `account` means: the inventory id when the key is created (a fresh account beside it when
    /// rewrapping), and the entry (service and account) recorded in the header's keyring slot when unlocking.
    /// [`KeySource::os_keyring`] builds that default.
    Keyring {
        /// Keyring service name, normally [`KEYRING_SERVICE`].
        service: String,
        /// Keyring account name; empty for the default (see above).
        account: String,
    },
    /// The recovery key, exactly as typed by the user (parsed with [`RecoveryKey::parse`]).
    Recovery(Secret),
}

impl KeySource {
    /// The OS keyring with the default service ([`KEYRING_SERVICE`]) and account (the inventory id).
    pub fn os_keyring() -> KeySource {
        KeySource::Keyring {
            service: KEYRING_SERVICE.to_string(),
            account: String::new(),
        }
    }

    /// The kind of slot this source opens.
    pub fn kind(&self) -> SlotKind {
        match self {
            KeySource::Passphrase(_) => SlotKind::Passphrase,
            KeySource::KeyFile(_) => SlotKind::KeyFile,
            KeySource::Keyring { .. } => SlotKind::Keyring,
            KeySource::Recovery(_) => SlotKind::Recovery,
        }
    }
}

/// Encrypts `plaintext` under `key` with XChaCha20-Poly1305, binding it to `aad`.
///
/// Format: [`SEAL_VERSION`] (1 byte), a random 24-byte nonce, then the ciphertext with its 16-byte tag. `aad` names
/// the place of the value (e.g. `credential:SERIAL:STORE:current`), so a sealed value moved to another row does
/// not [`open`].
pub fn seal(key: &[u8; KEY_LEN], plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let (nonce, ciphertext) = encrypt(key, plaintext, aad);
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
    out.push(SEAL_VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    out
}

/// Decrypts a value made by [`seal`] with the same `key` and `aad`.
///
/// [`KeyError::Unseal`] if the key or aad differ, or if any byte was changed. The plaintext is zeroized when
/// dropped.
pub fn open(
    key: &[u8; KEY_LEN],
    sealed: &[u8],
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    if sealed.len() < 1 + NONCE_LEN + TAG_LEN || sealed[0] != SEAL_VERSION {
        return Err(KeyError::Unseal);
    }
    decrypt(
        key,
        &sealed[1..1 + NONCE_LEN],
        &sealed[1 + NONCE_LEN..],
        aad,
    )
    .ok_or(KeyError::Unseal)
}

/// XChaCha20-Poly1305 with a fresh random nonce: `(nonce, ciphertext || tag)`.
pub(crate) fn encrypt(
    key: &[u8; KEY_LEN],
    plaintext: &[u8],
    aad: &[u8],
) -> ([u8; NONCE_LEN], Vec<u8>) {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let cipher = XChaCha20Poly1305::new(key.into());
    let ciphertext = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("XChaCha20-Poly1305 only fails for inputs longer than 256 GiB");
    (nonce, ciphertext)
}

/// The plaintext of `ciphertext`, or `None` if authentication fails or the nonce has the wrong length.
pub(crate) fn decrypt(
    key: &[u8; KEY_LEN],
    nonce: &[u8],
    ciphertext: &[u8],
    aad: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    if nonce.len() != NONCE_LEN {
        return None;
    }
    let cipher = XChaCha20Poly1305::new(key.into());
    cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .ok()
        .map(Zeroizing::new)
}

/// A fresh random 256-bit key.
pub(crate) fn random_key() -> Key {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    rand::rngs::OsRng.fill_bytes(key.as_mut());
    key
}
