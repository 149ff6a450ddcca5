//! Secret columns are sealed with the data key (XChaCha20-Poly1305) before they reach SQL, so the database holds
//! the same ciphertext a server backend would: SQLCipher's page encryption comes on top.
//!
//! A sealed value is stored as `s1:` + base64 of [`keys::seal`]'s output. Its associated data names the row and
//! the column (`serial`, `store`, `current` or `pending`), so a sealed value moved to another row does not open.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::inventory::keys::{self, KeyBundle};
use crate::inventory::InventoryError;
use crate::Secret;

const PREFIX: &str = "s1:";

fn aad(serial: &str, store: &str, which: &str) -> Vec<u8> {
    format!("temper-credential-v1\0{serial}\0{store}\0{which}").into_bytes()
}

/// Seals a credential for its row and column.
pub(super) fn seal_with(
    key: &[u8; 32],
    serial: &str,
    store: &str,
    which: &str,
    secret: &Secret,
) -> String {
    let sealed = keys::seal(key, secret.expose().as_bytes(), &aad(serial, store, which));
    format!("{PREFIX}{}", STANDARD.encode(sealed))
}

/// Seals a credential with the bundle's data key.
pub(super) fn seal(
    keys: &KeyBundle,
    serial: &str,
    store: &str,
    which: &str,
    secret: &Secret,
) -> String {
    seal_with(keys.data_key(), serial, store, which, secret)
}

/// Opens a sealed credential of its row and column.
pub(super) fn open_with(
    key: &[u8; 32],
    serial: &str,
    store: &str,
    which: &str,
    stored: &str,
) -> Result<Secret, InventoryError> {
    let damaged = || {
        InventoryError::Database(format!(
            "the sealed {which} credential of {serial}/{store} is damaged"
        ))
    };
    let encoded = stored.strip_prefix(PREFIX).ok_or_else(damaged)?;
    let sealed = STANDARD.decode(encoded).map_err(|_| damaged())?;
    let plain = keys::open(key, &sealed, &aad(serial, store, which)).map_err(|_| damaged())?;
    let text = std::str::from_utf8(&plain).map_err(|_| damaged())?;
    Ok(Secret::new(text))
}

/// Opens a sealed credential with the bundle's data key.
pub(super) fn open(
    keys: &KeyBundle,
    serial: &str,
    store: &str,
    which: &str,
    stored: &str,
) -> Result<Secret, InventoryError> {
    open_with(keys.data_key(), serial, store, which, stored)
}
