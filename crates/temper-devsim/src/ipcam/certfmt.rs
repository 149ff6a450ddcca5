//! Encodings `certtool` reads and writes: PEM certificate chains (`certtool install`); the
//! challengePassword attribute of a CSR is shared with the other models in [`crate::devkey`].

use std::io::Cursor;

use base64::Engine;
use rustls::pki_types::pem::{self, SectionKind};

/// Most certificates in an installed chain.
pub const MAX_CHAIN: usize = 8;

/// Why an input is refused: (event reason, console line).
pub type Refusal = (&'static str, String);

/// The DER certificates of a PEM chain, each checked to parse as X.509.
pub fn parse_chain(text: &str) -> Result<Vec<Vec<u8>>, Refusal> {
    let malformed = |m: String| ("malformed", format!("ERR malformed PEM: {m}"));
    let mut rd = Cursor::new(text.as_bytes());
    let mut ders = Vec::new();
    loop {
        match pem::from_buf(&mut rd) {
            Ok(Some((SectionKind::Certificate, der))) => ders.push(der),
            Ok(Some((kind, _))) => {
                return Err(malformed(format!(
                    "unexpected {kind:?} block (only CERTIFICATE blocks)"
                )))
            }
            Ok(None) => break,
            Err(e) => return Err(malformed(e.to_string())),
        }
        if ders.len() > MAX_CHAIN {
            break;
        }
    }
    if ders.is_empty() {
        return Err(("malformed", "ERR no certificate in input".into()));
    }
    if ders.len() > MAX_CHAIN {
        let total = ders.len() + count_more_certs(&mut rd);
        return Err((
            "chain-too-long",
            format!("ERR chain too long: {total} certificates, at most {MAX_CHAIN}"),
        ));
    }
    for (i, der) in ders.iter().enumerate() {
        match x509_parser::parse_x509_certificate(der) {
            Ok(([], _)) => {}
            _ => {
                return Err((
                    "malformed",
                    format!("ERR malformed certificate #{} in the chain", i + 1),
                ))
            }
        }
    }
    Ok(ders)
}

/// Certificates left in `rd` (for the message only).
fn count_more_certs(rd: &mut Cursor<&[u8]>) -> usize {
    let mut n = 0;
    while let Ok(Some((SectionKind::Certificate, _))) = pem::from_buf(rd) {
        n += 1;
    }
    n
}

/// One certificate as PEM (64-column base64, trailing newline).
pub fn to_pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// The DER SubjectPublicKeyInfo of a (parsed) certificate; empty when it does not parse.
pub fn leaf_spki(der: &[u8]) -> Vec<u8> {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, c)| c.public_key().raw.to_vec())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::tls;
    use super::*;

    #[test]
    fn chain_parsing_refuses_garbage_and_long_chains() {
        let cert = tls::FACTORY_CERT_PEM;
        assert_eq!(parse_chain(cert).unwrap().len(), 1);
        assert_eq!(parse_chain(&cert.repeat(8)).unwrap().len(), 8);
        let (reason, line) = parse_chain(&cert.repeat(50)).unwrap_err();
        assert_eq!(reason, "chain-too-long");
        assert!(line.contains("50 certificates"), "{line}");
        assert_eq!(parse_chain("hello\n").unwrap_err().0, "malformed");
        assert_eq!(
            parse_chain(tls::FACTORY_KEY_PEM).unwrap_err().0,
            "malformed"
        );
        let broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(parse_chain(broken).unwrap_err().0, "malformed");
        let truncated = &cert[..cert.len() - 30];
        assert_eq!(parse_chain(truncated).unwrap_err().0, "malformed");
        // Round trip of the stored form.
        let der = &parse_chain(cert).unwrap()[0];
        assert_eq!(&parse_chain(&to_pem(der)).unwrap()[0], der);
        assert!(!leaf_spki(der).is_empty());
        assert!(leaf_spki(b"junk").is_empty());
    }
}
