//! Keys made on a simulated device and the PKCS#10 requests it signs with them, shared by every model
//! (the camera's `certtool`, the sensor's `cert` shell command).
//!
//! A key is kept as a [`DeviceKey`] (PKCS#8 PEM) in the device's state only: nothing here prints or logs it.

use rcgen::{Attribute, CertificateParams, DistinguishedName, DnType, KeyPair, SanType};
use sha2::{Digest, Sha256};

use crate::state::DeviceKey;

/// Longest challenge a request carries (PKCS#9 ub-challenge-password).
pub const MAX_CHALLENGE: usize = 255;
/// PKCS#9 challengePassword (RFC 2985 §5.4.1).
const OID_CHALLENGE_PASSWORD: &[u64] = &[1, 2, 840, 113549, 1, 9, 7];

/// Lower-case hex SHA-256 of DER bytes.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

fn algorithm(kind: &str) -> Option<&'static rcgen::SignatureAlgorithm> {
    match kind {
        "ec-p256" => Some(&rcgen::PKCS_ECDSA_P256_SHA256),
        "ec-p384" => Some(&rcgen::PKCS_ECDSA_P384_SHA384),
        "ed25519" => Some(&rcgen::PKCS_ED25519),
        _ => None,
    }
}

/// Makes a new key of `kind` (`ec-p256`, `ec-p384` or `ed25519`; each model says which it offers).
pub fn generate_key(kind: &str) -> Result<DeviceKey, String> {
    let alg = algorithm(kind).ok_or_else(|| format!("unknown key type {kind}"))?;
    let key = KeyPair::generate_for(alg).map_err(|e| e.to_string())?;
    Ok(DeviceKey {
        kind: kind.to_string(),
        pkcs8_pem: key.serialize_pem(),
    })
}

/// The rcgen key pair of a stored key.
pub fn key_pair(key: &DeviceKey) -> Result<KeyPair, String> {
    let alg = algorithm(&key.kind).ok_or_else(|| format!("unknown key type {}", key.kind))?;
    KeyPair::from_pkcs8_pem_and_sign_algo(&key.pkcs8_pem, alg).map_err(|e| e.to_string())
}

/// DER SubjectPublicKeyInfo of a stored key.
pub fn spki_der(key: &DeviceKey) -> Result<Vec<u8>, String> {
    Ok(rcgen::PublicKeyData::subject_public_key_info(&key_pair(
        key,
    )?))
}

/// DER length octets.
fn der_len(n: usize) -> Vec<u8> {
    match n {
        0..=0x7f => vec![n as u8],
        0x80..=0xff => vec![0x81, n as u8],
        _ => vec![0x82, (n >> 8) as u8, n as u8],
    }
}

/// `SET { UTF8String challenge }`: the values of a challengePassword attribute (UTF8String, as OpenSSL 3
/// writes it).
pub fn challenge_values(challenge: &str) -> Vec<u8> {
    let mut utf8 = vec![0x0c];
    utf8.extend(der_len(challenge.len()));
    utf8.extend_from_slice(challenge.as_bytes());
    let mut set = vec![0x31];
    set.extend(der_len(utf8.len()));
    set.extend(utf8);
    set
}

/// What a certificate signing request asks for.
#[derive(Debug, Clone, Default)]
pub struct CsrSubject {
    /// Subject CN.
    pub cn: String,
    /// The PKCS#9 challengePassword attribute; `None`: no such attribute.
    pub challenge: Option<String>,
    pub sans: Vec<SanType>,
    /// Request basicConstraints CA:TRUE (only a misbehaving device does).
    pub ca: bool,
}

/// A PEM PKCS#10 request for `subject`, signed by (and carrying the public key of) `kp`.
pub fn csr_pem(kp: &KeyPair, subject: CsrSubject) -> Result<String, String> {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, subject.cn.as_str());
    params.subject_alt_names = subject.sans;
    if subject.ca {
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    }
    let attrs = subject
        .challenge
        .iter()
        .map(|c| Attribute {
            oid: OID_CHALLENGE_PASSWORD,
            values: challenge_values(c),
        })
        .collect();
    params
        .serialize_request_with_attributes(kp, attrs)
        .and_then(|r| r.pem())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::certification_request::X509CertificationRequest;
    use x509_parser::prelude::FromDer;

    #[test]
    fn challenge_attribute_encoding() {
        assert_eq!(challenge_values("ab"), vec![0x31, 4, 0x0c, 2, b'a', b'b']);
        let long = "x".repeat(200);
        let v = challenge_values(&long);
        assert_eq!(&v[..6], &[0x31, 0x81, 203, 0x0c, 0x81, 200]);
        assert_eq!(v.len(), 206);
    }

    #[test]
    fn every_key_type_round_trips_and_signs_a_request() {
        for kind in ["ec-p256", "ec-p384", "ed25519"] {
            let key = generate_key(kind).unwrap();
            assert!(key.pkcs8_pem.contains("PRIVATE KEY"));
            assert!(
                !format!("{key:?}").contains("PRIVATE KEY"),
                "Debug must not show the key"
            );
            let spki = spki_der(&key).unwrap();
            let subject = CsrSubject {
                cn: "dev".into(),
                challenge: Some("c1".into()),
                ..CsrSubject::default()
            };
            let pem = csr_pem(&key_pair(&key).unwrap(), subject).unwrap();
            let der = rustls::pki_types::pem::PemObject::from_pem_slice(pem.as_bytes())
                .map(|d: rustls::pki_types::CertificateSigningRequestDer| d.as_ref().to_vec())
                .unwrap();
            let (_, csr) = X509CertificationRequest::from_der(&der).unwrap();
            assert_eq!(
                csr.certification_request_info.subject_pki.raw, spki,
                "the request carries the key's public key"
            );
        }
        assert!(generate_key("rsa-1024").is_err());
    }
}
