//! The cryptography of the trail: canonical detail JSON, the event hash, the event and head MACs.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::AuditKey;

type HmacSha256 = Hmac<Sha256>;

/// Domain tag of the event hash encoding.
const HASH_DOMAIN: &[u8] = b"temper-audit-hash-v1";
/// Domain tag of the per-event MAC.
const EVENT_MAC_DOMAIN: &[u8] = b"temper-audit-event-v1";
/// Domain tag of the sidecar head MAC.
const HEAD_MAC_DOMAIN: &[u8] = b"temper-audit-head-v1";

/// The fields an event hash covers, as stored (action as its kebab-case name, detail as canonical JSON text).
pub(crate) struct HashInput<'a> {
    pub seq: u64,
    pub at: u64,
    pub actor: &'a str,
    pub action: &'a str,
    pub device: Option<&'a str>,
    pub outcome: &'a str,
    pub detail: &'a str,
    pub prev_hash: &'a [u8; 32],
}

/// SHA-256 over an unambiguous encoding: integers as 8 bytes big-endian, strings as an 8-byte big-endian
/// length then the bytes, the device as a 0 byte (none) or a 1 byte and a string, then the 32-byte previous
/// hash. No two different inputs share an encoding.
pub(crate) fn event_hash(input: &HashInput<'_>) -> [u8; 32] {
    fn field(hasher: &mut Sha256, bytes: &[u8]) {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    }
    let mut hasher = Sha256::new();
    field(&mut hasher, HASH_DOMAIN);
    hasher.update(input.seq.to_be_bytes());
    hasher.update(input.at.to_be_bytes());
    field(&mut hasher, input.actor.as_bytes());
    field(&mut hasher, input.action.as_bytes());
    match input.device {
        None => hasher.update([0u8]),
        Some(device) => {
            hasher.update([1u8]);
            field(&mut hasher, device.as_bytes());
        }
    }
    field(&mut hasher, input.outcome.as_bytes());
    field(&mut hasher, input.detail.as_bytes());
    hasher.update(input.prev_hash);
    hasher.finalize().into()
}

fn mac_over(key: &AuditKey, parts: &[&[u8]]) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(key.expose()).expect("HMAC-SHA256 accepts any key length");
    for part in parts {
        mac.update(part);
    }
    mac
}

/// `HMAC-SHA256(key, "temper-audit-event-v1" ‖ hash)`.
pub(crate) fn event_mac(key: &AuditKey, hash: &[u8; 32]) -> [u8; 32] {
    mac_over(key, &[EVENT_MAC_DOMAIN, hash])
        .finalize()
        .into_bytes()
        .into()
}

/// Checks an event MAC in constant time.
pub(crate) fn event_mac_ok(key: &AuditKey, hash: &[u8; 32], mac: &[u8]) -> bool {
    mac_over(key, &[EVENT_MAC_DOMAIN, hash])
        .verify_slice(mac)
        .is_ok()
}

/// `HMAC-SHA256(key, "temper-audit-head-v1" ‖ seq as 8 bytes big-endian ‖ hash)`.
pub(crate) fn head_mac(key: &AuditKey, seq: u64, hash: &[u8; 32]) -> [u8; 32] {
    mac_over(key, &[HEAD_MAC_DOMAIN, &seq.to_be_bytes(), hash])
        .finalize()
        .into_bytes()
        .into()
}

/// Checks a head MAC in constant time.
pub(crate) fn head_mac_ok(key: &AuditKey, seq: u64, hash: &[u8; 32], mac: &[u8]) -> bool {
    mac_over(key, &[HEAD_MAC_DOMAIN, &seq.to_be_bytes(), hash])
        .verify_slice(mac)
        .is_ok()
}

/// The canonical JSON text of `value`: no whitespace, object keys sorted by their UTF-8 bytes at every level,
/// strings and numbers as serde_json writes them. Equal values give equal text whatever the key order they were
/// built with, so the event hash does not depend on map ordering features.
pub fn canonical_json(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Serde helpers: `[u8; 32]` as 64 lowercase hex digits.
pub(crate) mod hex32 {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&text, &mut bytes)
            .map_err(|e| D::Error::custom(format!("expected 64 hex digits: {e}")))?;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(actor: &'a str, device: Option<&'a str>, prev: &'a [u8; 32]) -> HashInput<'a> {
        HashInput {
            seq: 1,
            at: 2,
            actor,
            action: "reveal",
            device,
            outcome: "ok",
            detail: "{}",
            prev_hash: prev,
        }
    }

    #[test]
    fn audit_hash_encoding_is_unambiguous() {
        let zero = [0u8; 32];
        // Moving bytes between fields, or a missing device vs an empty one, must change the hash.
        let a = event_hash(&input("ab", Some("c"), &zero));
        let b = event_hash(&input("a", Some("bc"), &zero));
        let none = event_hash(&input("a", None, &zero));
        let empty = event_hash(&input("a", Some(""), &zero));
        assert_ne!(a, b);
        assert_ne!(none, empty);
    }

    #[test]
    fn audit_macs_depend_on_key_domain_and_sequence() {
        let k1 = AuditKey::from_bytes([1; 32]);
        let k2 = AuditKey::from_bytes([2; 32]);
        let hash = [7u8; 32];
        assert_ne!(event_mac(&k1, &hash), event_mac(&k2, &hash));
        assert_ne!(event_mac(&k1, &hash), head_mac(&k1, 0, &hash));
        assert_ne!(head_mac(&k1, 1, &hash), head_mac(&k1, 2, &hash));
        assert!(event_mac_ok(&k1, &hash, &event_mac(&k1, &hash)));
        assert!(!event_mac_ok(&k2, &hash, &event_mac(&k1, &hash)));
        assert!(head_mac_ok(&k1, 3, &hash, &head_mac(&k1, 3, &hash)));
        assert!(!head_mac_ok(&k1, 4, &hash, &head_mac(&k1, 3, &hash)));
    }
}
