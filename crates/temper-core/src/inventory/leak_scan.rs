//! Looks for a string in raw bytes under the encodings a careless store could leave it in. Used by tests to
//! prove that no inventory file holds a serial, model or credential in any readable form.

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine;

/// Names of the base64 forms, by alphabet (standard, URL-safe) and alignment (0, 1, 2 bytes before the needle).
const BASE64_NAMES: [[&str; 3]; 2] = [
    [
        "base64 (offset 0)",
        "base64 (offset 1)",
        "base64 (offset 2)",
    ],
    [
        "base64url (offset 0)",
        "base64url (offset 1)",
        "base64url (offset 2)",
    ],
];

/// Base64 forms whose alignment-independent part is shorter than this are not searched (too many chance hits).
const MIN_BASE64_CHARS: usize = 4;

/// Returns the name of the first encoding of `needle` found in `haystack`, or `None`.
///
/// Encodings, in the order tried: `"utf-8"`, `"hex (lowercase)"`, `"hex (uppercase)"`, `"utf-16le"`,
/// `"utf-16be"`, then base64 with the standard and URL-safe alphabets at each of the three byte alignments
/// (`"base64 (offset N)"`, `"base64url (offset N)"`). For base64 the needle is encoded after N zero bytes and only
/// the characters that depend on the needle alone are searched, so it is found wherever it sits in a longer
/// encoded stream. An empty needle is never found.
pub fn find(haystack: &[u8], needle: &str) -> Option<&'static str> {
    if needle.is_empty() {
        return None;
    }
    let bytes = needle.as_bytes();
    let simple: [(&'static str, Vec<u8>); 5] = [
        ("utf-8", bytes.to_vec()),
        ("hex (lowercase)", hex::encode(bytes).into_bytes()),
        ("hex (uppercase)", hex::encode_upper(bytes).into_bytes()),
        (
            "utf-16le",
            needle.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        ),
        (
            "utf-16be",
            needle.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        ),
    ];
    for (name, pattern) in &simple {
        if contains(haystack, pattern) {
            return Some(name);
        }
    }
    for (alphabet, names) in BASE64_NAMES.iter().enumerate() {
        for (offset, name) in names.iter().enumerate() {
            let pattern = base64_core(bytes, offset, alphabet == 1);
            if pattern.len() >= MIN_BASE64_CHARS && contains(haystack, pattern.as_bytes()) {
                return Some(name);
            }
        }
    }
    None
}

/// The base64 characters of `needle` preceded by `offset` bytes that depend only on the needle's bits.
fn base64_core(needle: &[u8], offset: usize, url_safe: bool) -> String {
    let mut padded = vec![0u8; offset];
    padded.extend_from_slice(needle);
    let encoded = if url_safe {
        URL_SAFE.encode(&padded)
    } else {
        STANDARD.encode(&padded)
    };
    // Character i covers bits [6i, 6i + 6); the needle covers bits [8 * offset, 8 * (offset + len)).
    let first = (8 * offset).div_ceil(6);
    let end = (8 * (offset + needle.len())) / 6;
    if end <= first {
        return String::new();
    }
    encoded[first..end].to_string()
}

fn contains(haystack: &[u8], pattern: &[u8]) -> bool {
    !pattern.is_empty()
        && pattern.len() <= haystack.len()
        && haystack.windows(pattern.len()).any(|w| w == pattern)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEEDLE: &str = "Sekrit-Passw0rd-Ünïcode";

    fn embedded(encoded: &[u8]) -> Vec<u8> {
        let mut hay = b"\x00\x01random prefix bytes ".to_vec();
        hay.extend_from_slice(encoded);
        hay.extend_from_slice(b" trailing bytes\xff");
        hay
    }

    #[test]
    fn finds_plain_utf8() {
        assert_eq!(find(&embedded(NEEDLE.as_bytes()), NEEDLE), Some("utf-8"));
    }

    #[test]
    fn finds_hex_in_both_cases() {
        let lower = hex::encode(NEEDLE);
        let upper = hex::encode_upper(NEEDLE);
        assert_eq!(
            find(&embedded(lower.as_bytes()), NEEDLE),
            Some("hex (lowercase)")
        );
        assert_eq!(
            find(&embedded(upper.as_bytes()), NEEDLE),
            Some("hex (uppercase)")
        );
    }

    #[test]
    fn finds_utf16_in_both_byte_orders() {
        let le: Vec<u8> = NEEDLE.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = NEEDLE.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(find(&embedded(&le), NEEDLE), Some("utf-16le"));
        assert_eq!(find(&embedded(&be), NEEDLE), Some("utf-16be"));
    }

    /// `needle` placed `offset` bytes past a 3-byte boundary inside a longer message, followed by other bytes:
    /// its encoding then differs from the encoding of the needle alone.
    fn message_with(needle: &str, offset: usize) -> Vec<u8> {
        let mut message = b"abcdef".to_vec();
        message.extend(std::iter::repeat_n(b'#', offset));
        message.extend_from_slice(needle.as_bytes());
        message.extend_from_slice(b"\x7f tail");
        message
    }

    #[test]
    fn finds_base64_at_every_alignment_inside_a_longer_stream() {
        for offset in 0..3 {
            let encoded = STANDARD.encode(message_with(NEEDLE, offset));
            assert!(!encoded.contains(&STANDARD.encode(NEEDLE)) || offset == 0);
            let expected = format!("base64 (offset {offset})");
            assert_eq!(
                find(&embedded(encoded.as_bytes()), NEEDLE),
                Some(expected.as_str())
            );
        }
    }

    #[test]
    fn finds_url_safe_base64_at_every_alignment() {
        // Bytes that encode to '+' and '/' in the standard alphabet, so the URL-safe form differs.
        let needle = "??>>??>>~~??>>~~";
        for offset in 0..3 {
            assert_ne!(
                base64_core(needle.as_bytes(), offset, false),
                base64_core(needle.as_bytes(), offset, true)
            );
            let encoded = URL_SAFE.encode(message_with(needle, offset));
            let expected = format!("base64url (offset {offset})");
            assert_eq!(
                find(&embedded(encoded.as_bytes()), needle),
                Some(expected.as_str())
            );
        }
    }

    #[test]
    fn does_not_find_what_is_not_there() {
        let hay = embedded(b"completely unrelated content 0123456789abcdef");
        assert_eq!(find(&hay, NEEDLE), None);
        assert_eq!(find(&hay, ""), None);
        assert_eq!(find(b"", NEEDLE), None);
    }
}
