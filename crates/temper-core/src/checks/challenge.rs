//! `WWW-Authenticate` parsing (RFC 7235 §4.1): one header value may hold several challenges.
//!
//! The parser works on bytes and cuts the string only at ASCII delimiters, so any UTF-8 a device sends (in a
//! realm, or garbage) is kept intact and can never make it panic.

/// One challenge of a `WWW-Authenticate` header: its scheme and its parameters (names in lowercase).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The auth scheme as sent, e.g. `Digest` or `Basic`.
    pub scheme: String,
    /// `name=value` parameters, names lowercased, quoted values unescaped.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The value of parameter `name` (lowercase).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a `WWW-Authenticate` value, which may hold several challenges (`Basic realm="a", Digest realm="b", …`).
pub fn parse_challenges(value: &str) -> Vec<Challenge> {
    let bytes = value.as_bytes();
    let mut out: Vec<Challenge> = Vec::new();
    let mut i = 0;
    let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    let skip_spaces = |mut i: usize| {
        while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
            i += 1;
        }
        i
    };
    while i < bytes.len() {
        if bytes[i] == b',' || bytes[i].is_ascii_whitespace() || !is_tchar(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_tchar(bytes[i]) {
            i += 1;
        }
        let token = &value[start..i];
        if i < bytes.len() && !matches!(bytes[i], b' ' | b'\t' | b',' | b'=') {
            // Not a scheme or a parameter name: skip the malformed item up to the next comma.
            while i < bytes.len() && bytes[i] != b',' {
                i += 1;
            }
            continue;
        }
        let after = skip_spaces(i);
        if after < bytes.len() && bytes[after] == b'=' && !out.is_empty() {
            let (param_value, next) = read_value(value, skip_spaces(after + 1));
            i = next;
            if let Some(current) = out.last_mut() {
                current
                    .params
                    .push((token.to_ascii_lowercase(), param_value));
            }
        } else {
            out.push(Challenge {
                scheme: token.to_string(),
                params: Vec::new(),
            });
            i = after;
        }
    }
    out
}

/// Reads a quoted string (with `\` escapes) or a bare token starting at `i`; returns it and the next index.
fn read_value(value: &str, mut i: usize) -> (String, usize) {
    let bytes = value.as_bytes();
    if i < bytes.len() && bytes[i] == b'"' {
        let mut out = Vec::new();
        i += 1;
        while i < bytes.len() && bytes[i] != b'"' {
            if bytes[i] == b'\\' && i + 1 < bytes.len() {
                i += 1;
            }
            out.push(bytes[i]);
            i += 1;
        }
        (String::from_utf8_lossy(&out).into_owned(), i + 1)
    } else {
        let start = i;
        while i < bytes.len() && bytes[i] != b',' && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        (value[start..i].to_string(), i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Guards: the challenge parser slices safely on UTF-8 and splits several challenges in one header.
    #[test]
    fn challenge_parser_handles_utf8_and_several_challenges() {
        let all = parse_challenges(
            r#"Basic realm="Kamera-Büro", Digest realm="€€", opaque="x", nonce="a", a€=1"#,
        );
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].param("realm"), Some("Kamera-Büro"));
        assert_eq!(
            (all[1].param("realm"), all[1].param("nonce")),
            (Some("€€"), Some("a"))
        );
    }
}
