//! The recovery key: shown once when an inventory is created, it unlocks the inventory when the keyring (or the
//! passphrase, or the key file) is lost.
//!
//! It is 32 random bytes followed by a 3-byte checksum (the first bytes of SHA-256 over a domain label and the
//! random bytes), written in RFC 4648 base32 (`A`–`Z`, `2`–`7`): 56 characters, shown as 8 groups of 7 joined by
//! dashes. Parsing ignores case, spaces and dashes, and reads `0`, `1` and `8` as `O`, `I` and `B`. The checksum
//! catches a mistyped character (a miss has a 1 in 16.7 million chance) so a typo is reported as a typo rather
//! than as a wrong key.

use std::fmt;

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{Key, KeyError, KEY_LEN};
use crate::Secret;

/// Checksum length in bytes.
const CHECKSUM_LEN: usize = 3;
/// Encoded length in characters: (32 + 3) bytes × 8 / 5.
const ENCODED_LEN: usize = (KEY_LEN + CHECKSUM_LEN) * 8 / 5;
/// Characters per displayed group.
const GROUP_LEN: usize = 7;
const CHECKSUM_LABEL: &[u8] = b"temper recovery key checksum v1";
const KEK_LABEL: &[u8] = b"temper recovery key-encryption key v1";

/// A recovery key. Zeroized when dropped; `Debug` never shows it.
#[derive(Clone)]
pub struct RecoveryKey(Key);

impl RecoveryKey {
    /// A fresh random recovery key.
    pub fn generate() -> RecoveryKey {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        RecoveryKey(key)
    }

    /// The key as shown to the user, once: 8 dash-separated groups of 7 base32 characters, e.g.
    /// `ABCDEFG-HIJKLMN-…`. Print it only where the user asked for it; never log it.
    pub fn to_display_string(&self) -> Secret {
        let mut bytes = Zeroizing::new(Vec::with_capacity(KEY_LEN + CHECKSUM_LEN));
        bytes.extend_from_slice(self.0.as_slice());
        bytes.extend_from_slice(&checksum(&self.0));
        let encoded = Zeroizing::new(BASE32_NOPAD.encode(&bytes));
        let mut shown = String::with_capacity(ENCODED_LEN + ENCODED_LEN / GROUP_LEN);
        for (i, c) in encoded.chars().enumerate() {
            if i > 0 && i % GROUP_LEN == 0 {
                shown.push('-');
            }
            shown.push(c);
        }
        Secret::new(shown)
    }

    /// Parses a recovery key as typed: case, spaces and dashes do not matter, and `0`, `1`, `8` are read as
    /// `O`, `I`, `B`.
    ///
    /// [`KeyError::RecoveryKeyTypo`] if a character is not base32, the length is wrong, or the checksum does not
    /// match.
    pub fn parse(typed: &str) -> Result<RecoveryKey, KeyError> {
        let typo = |detail: String| KeyError::RecoveryKeyTypo { detail };
        // Never grows past its capacity, so no partial copy of the key is left behind by a reallocation.
        let mut normalized = Zeroizing::new(String::with_capacity(ENCODED_LEN));
        let mut count = 0;
        for c in typed.chars() {
            if c.is_whitespace() || c == '-' {
                continue;
            }
            let c = match c.to_ascii_uppercase() {
                '0' => 'O',
                '1' => 'I',
                '8' => 'B',
                c => c,
            };
            count += 1;
            if !(c.is_ascii_uppercase() || ('2'..='7').contains(&c)) {
                return Err(typo(format!("character {count} is not one of A-Z or 2-7")));
            }
            if count <= ENCODED_LEN {
                normalized.push(c);
            }
        }
        if count != ENCODED_LEN {
            return Err(typo(format!(
                "it has {count} letters and digits, a recovery key has {ENCODED_LEN}"
            )));
        }
        let bytes = Zeroizing::new(
            BASE32_NOPAD
                .decode(normalized.as_bytes())
                .map_err(|_| typo("the last group is not a valid ending".into()))?,
        );
        let (key_bytes, sum) = bytes.split_at(KEY_LEN);
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(key_bytes);
        if checksum(&key) != sum {
            return Err(typo(
                "its checksum does not match (a character is wrong, missing or swapped)".into(),
            ));
        }
        Ok(RecoveryKey(key))
    }

    /// The key-encryption key of this recovery key's slot in the inventory `inventory_id`.
    pub(crate) fn kek(&self, inventory_id: &str) -> Key {
        derive_kek(&self.0, KEK_LABEL, inventory_id)
    }
}

impl fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryKey(<redacted>)")
    }
}

fn checksum(key: &[u8; KEY_LEN]) -> [u8; CHECKSUM_LEN] {
    let digest = Sha256::new()
        .chain_update(CHECKSUM_LABEL)
        .chain_update(key)
        .finalize();
    let mut sum = [0u8; CHECKSUM_LEN];
    sum.copy_from_slice(&digest[..CHECKSUM_LEN]);
    sum
}

/// HMAC-SHA256(`key`, `label` || 0 || `inventory_id`): a key-encryption key bound to its purpose and inventory.
pub(crate) fn derive_kek(key: &[u8; KEY_LEN], label: &[u8], inventory_id: &str) -> Key {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(label);
    mac.update(&[0]);
    mac.update(inventory_id.as_bytes());
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}
