//! Escaping text for HTML and XML, shared by the handover report and the credential label's SVG.

/// Escapes text for HTML and XML (element content and quoted attributes): `& < > " '` become entities, and
/// control characters XML forbids become U+FFFD, so a hostile serial or model string stays inert text.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Guards: the escape function covers every markup character and drops control characters XML forbids.
    #[test]
    fn handover_escape_neutralises_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("ok\u{1}\u{7f}\n"), "ok\u{FFFD}\u{FFFD}\n");
        assert_eq!(escape("Simvision SV-IPC2100"), "Simvision SV-IPC2100");
    }
}
