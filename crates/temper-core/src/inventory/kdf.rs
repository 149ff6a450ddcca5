//! The inventory key: a raw 256-bit SQLCipher key derived from the passphrase with Argon2id.
//!
//! The salt and parameters live in a small plaintext JSON header beside the database, `<db>.kdf`:
//! `{"format":1,"algorithm":"argon2id","params":{"m_cost_kib":65536,"t_cost":3,"p_cost":1},"salt":"<base64>"}`,
//! and nothing else. The header holds no secret: without the passphrase it only tells how to derive the key.
//! New inventories use [`M_COST_KIB`], [`T_COST`], [`P_COST`]; existing ones use the parameters of their header, so
//! the defaults can be raised later without breaking old inventories.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::InventoryError;
use crate::Secret;

/// Argon2id memory cost of new inventories, in KiB: 65536 KiB = 64 MiB.
pub const M_COST_KIB: u32 = 65_536;
/// Argon2id time cost (passes over memory) of new inventories.
pub const T_COST: u32 = 3;
/// Argon2id parallelism (lanes) of new inventories.
pub const P_COST: u32 = 1;
/// Salt length in bytes (random per inventory).
pub const SALT_LEN: usize = 16;
/// Derived key length in bytes: a raw 256-bit SQLCipher key.
pub const KEY_LEN: usize = 32;
/// Version of the header format.
pub const HEADER_FORMAT: u32 = 1;
/// The only algorithm name the header may carry (Argon2id, version 0x13).
pub const ALGORITHM: &str = "argon2id";

/// Upper bounds accepted from a header, so a damaged header cannot make Temper allocate or spin without limit.
const MAX_M_COST_KIB: u32 = 4 * 1024 * 1024;
const MAX_T_COST: u32 = 64;
const MAX_P_COST: u32 = 16;

/// Argon2id parameters as stored in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KdfParams {
    /// Memory cost in KiB.
    pub m_cost_kib: u32,
    /// Time cost (passes).
    pub t_cost: u32,
    /// Parallelism (lanes).
    pub p_cost: u32,
}

impl KdfParams {
    /// The parameters of new inventories.
    pub const DEFAULT: KdfParams = KdfParams {
        m_cost_kib: M_COST_KIB,
        t_cost: T_COST,
        p_cost: P_COST,
    };
}

/// The plaintext key header `<db>.kdf`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KdfHeader {
    /// [`HEADER_FORMAT`].
    pub format: u32,
    /// [`ALGORITHM`].
    pub algorithm: String,
    /// Argon2id parameters.
    pub params: KdfParams,
    /// The salt, standard base64 with padding.
    pub salt: String,
}

/// The path of the key header of the database at `db`: `<db>.kdf`.
pub fn header_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".kdf");
    PathBuf::from(name)
}

impl KdfHeader {
    /// A header for a new inventory: default parameters and a fresh random salt.
    pub fn generate() -> KdfHeader {
        let mut salt = [0u8; SALT_LEN];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        KdfHeader {
            format: HEADER_FORMAT,
            algorithm: ALGORITHM.to_string(),
            params: KdfParams::DEFAULT,
            salt: STANDARD.encode(salt),
        }
    }

    /// Reads and validates the header at `path`.
    pub fn read(path: &Path) -> Result<KdfHeader, InventoryError> {
        let bad = |reason: String| InventoryError::KdfHeader {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let header: KdfHeader = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        header.validate().map_err(bad)?;
        Ok(header)
    }

    /// Writes the header to `path`, which must not exist yet, and fsyncs it.
    pub fn write_new(&self, path: &Path) -> Result<(), InventoryError> {
        let io = |source| InventoryError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file: File = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    InventoryError::AlreadyExists {
                        path: path.to_path_buf(),
                    }
                } else {
                    io(e)
                }
            })?;
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)
    }

    fn validate(&self) -> Result<(), String> {
        if self.format != HEADER_FORMAT {
            return Err(format!(
                "header format {} is not supported (this Temper reads format {HEADER_FORMAT})",
                self.format
            ));
        }
        if self.algorithm != ALGORITHM {
            return Err(format!("unknown key algorithm {:?}", self.algorithm));
        }
        let p = self.params;
        if p.m_cost_kib > MAX_M_COST_KIB || p.t_cost > MAX_T_COST || p.p_cost > MAX_P_COST {
            return Err("Argon2id parameters are out of range".into());
        }
        Params::new(p.m_cost_kib, p.t_cost, p.p_cost, Some(KEY_LEN))
            .map_err(|e| format!("invalid Argon2id parameters: {e}"))?;
        self.salt_bytes().map(|_| ())
    }

    fn salt_bytes(&self) -> Result<Vec<u8>, String> {
        let salt = STANDARD
            .decode(&self.salt)
            .map_err(|e| format!("salt is not base64: {e}"))?;
        if salt.len() != SALT_LEN {
            return Err(format!(
                "salt has {} bytes, expected {SALT_LEN}",
                salt.len()
            ));
        }
        Ok(salt)
    }

    /// Derives the raw 256-bit database key from `passphrase` (Argon2id v0x13 with this header's parameters
    /// and salt). The key is zeroized when dropped.
    pub fn derive_key(
        &self,
        passphrase: &Secret,
    ) -> Result<Zeroizing<[u8; KEY_LEN]>, InventoryError> {
        let failed =
            |reason: String| InventoryError::Database(format!("key derivation failed: {reason}"));
        self.validate().map_err(failed)?;
        let salt = self.salt_bytes().map_err(failed)?;
        let p = self.params;
        let params = Params::new(p.m_cost_kib, p.t_cost, p.p_cost, Some(KEY_LEN))
            .map_err(|e| failed(e.to_string()))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        argon2
            .hash_password_into(passphrase.expose().as_bytes(), &salt, key.as_mut())
            .map_err(|e| failed(e.to_string()))?;
        Ok(key)
    }
}

/// The SQL statement that hands a raw key to SQLCipher: `PRAGMA key = "x'<64 hex>'";`. Zeroized when dropped.
pub(crate) fn key_pragma(key: &[u8; KEY_LEN]) -> Zeroizing<String> {
    let mut hex_key = Zeroizing::new([0u8; KEY_LEN * 2]);
    // Cannot fail: the buffer is exactly twice the key length.
    let _ = hex::encode_to_slice(key, hex_key.as_mut());
    const PREFIX: &str = "PRAGMA key = \"x'";
    const SUFFIX: &str = "'\";";
    // Allocated once at its final size, so no partial copy is left behind by a reallocation.
    let mut sql = Zeroizing::new(String::with_capacity(
        PREFIX.len() + KEY_LEN * 2 + SUFFIX.len(),
    ));
    sql.push_str(PREFIX);
    for &b in hex_key.iter() {
        sql.push(char::from(b));
    }
    sql.push_str(SUFFIX);
    sql
}

/// Refuses a passphrase that zxcvbn scores below 3 (of 4), with its warning and suggestions as the reason.
pub fn check_passphrase_strength(passphrase: &Secret) -> Result<(), InventoryError> {
    let entropy = zxcvbn::zxcvbn(passphrase.expose(), &["temper", "inventory", "iot"]);
    if u8::from(entropy.score()) >= 3 {
        return Ok(());
    }
    let mut parts = Vec::new();
    if let Some(feedback) = entropy.feedback() {
        if let Some(warning) = feedback.warning() {
            parts.push(warning.to_string());
        }
        parts.extend(feedback.suggestions().iter().map(|s| s.to_string()));
    }
    if parts.is_empty() {
        parts.push("it would be guessed too quickly".into());
    }
    Err(InventoryError::WeakPassphrase {
        reason: parts.join(" "),
    })
}
