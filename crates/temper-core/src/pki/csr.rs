//! Checking a device's PKCS#10 certificate signing request before anything of it is trusted.

use super::policy::{AllowedKey, CertPolicy, ChallengeField, DeviceIdentity};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateSigningRequestDer;
use std::net::IpAddr;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::cri_attributes::ParsedCriAttribute;
use x509_parser::error::X509Error;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

/// The largest CSR PEM accepted; longer input is refused before it is parsed.
pub const MAX_CSR_PEM_BYTES: usize = 16 * 1024;

const OID_CHALLENGE_PASSWORD: &str = "1.2.840.113549.1.9.7";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_ED25519: &str = "1.3.101.112";
const OID_RSA: &str = "1.2.840.113549.1.1.1";
const MAX_RSA_BITS: u32 = 8192;

/// The public key kind found in a CSR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrKey {
    /// ECDSA on NIST P-256.
    EcdsaP256,
    /// ECDSA on NIST P-384.
    EcdsaP384,
    /// Ed25519.
    Ed25519,
    /// RSA with a modulus of this many bits.
    Rsa {
        /// Modulus size in bits.
        bits: u32,
    },
}

/// A CSR that passed [`check_csr`]: only its public key is kept, for signing and later comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedCsr {
    spki_der: Vec<u8>,
    key: CsrKey,
    serial: String,
}

impl CheckedCsr {
    /// The CSR's SubjectPublicKeyInfo (DER): record it to compare with what the device serves.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The key kind.
    pub fn key(&self) -> CsrKey {
        self.key
    }

    /// The serial of the device the CSR was checked for.
    pub fn serial(&self) -> &str {
        &self.serial
    }
}

/// Why a CSR was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsrError {
    /// The PEM is longer than [`MAX_CSR_PEM_BYTES`].
    #[error("CSR is {len} bytes, over the {max}-byte limit")]
    TooLarge {
        /// Input length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not a well-formed PKCS#10 request in PEM.
    #[error("malformed CSR: {0}")]
    Malformed(String),
    /// The key kind or size is not allowed by the policy.
    #[error("CSR key ({0}) is not allowed by the certificate policy")]
    KeyNotAllowed(String),
    /// The key is not of the kind the station told the device to make.
    #[error("CSR key is {found}, but the station told the device to make an {asked} key (the device ignored the key type it was given)")]
    KeyNotAsked {
        /// The key kind in the CSR.
        found: String,
        /// The kind asked for.
        asked: String,
    },
    /// The CSR is signed with an algorithm Temper does not verify.
    #[error("CSR signature algorithm is not supported: {0}")]
    UnsupportedSignature(String),
    /// The signature does not verify with the CSR's own key.
    #[error("CSR signature does not verify with the CSR's public key")]
    BadSignature,
    /// The station passed an empty challenge (a caller bug; refused rather than matched).
    #[error("the station's challenge is empty")]
    EmptyChallenge,
    /// The challenge is absent.
    #[error("CSR carries no challenge in {0}")]
    MissingChallenge(String),
    /// A challenge is present but is not the station's (a replayed or pre-made CSR).
    #[error("CSR challenge in {0} is not the one the station issued (replayed or pre-made CSR)")]
    ChallengeMismatch(String),
    /// The CSR requests BasicConstraints CA:TRUE.
    #[error("CSR requests a CA certificate (BasicConstraints CA:TRUE)")]
    RequestsCa,
    /// The CSR requests EKU anyExtendedKeyUsage.
    #[error("CSR requests extended key usage anyExtendedKeyUsage")]
    RequestsAnyEku,
    /// The CSR requests a subject alternative name that is not the device's.
    #[error("CSR requests subject alternative name {0}, which is not the device's")]
    ForeignSan(String),
    /// The CSR's subject common name is not the device's.
    #[error("CSR subject CN {found:?} is not the device's (expected {expected:?})")]
    ForeignSubject {
        /// The CN in the CSR.
        found: String,
        /// The CN the policy gives this device.
        expected: String,
    },
}

/// Checks a device's CSR (PEM) against the policy, the device's identity and the station's challenge.
///
/// Order: size bound, PEM and DER parse (no trailing data), key kind and size (and, when the policy
/// requires one, exactly the kind the station asked for), signature, challenge,
/// requested extensions, subject. Nothing from the CSR except its public key is kept.
pub fn check_csr(
    pem: &str,
    policy: &CertPolicy,
    identity: &DeviceIdentity,
    challenge: &str,
) -> Result<CheckedCsr, CsrError> {
    if pem.len() > MAX_CSR_PEM_BYTES {
        return Err(CsrError::TooLarge {
            len: pem.len(),
            max: MAX_CSR_PEM_BYTES,
        });
    }
    if challenge.is_empty() {
        return Err(CsrError::EmptyChallenge);
    }
    let der = CertificateSigningRequestDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| CsrError::Malformed(format!("no CERTIFICATE REQUEST PEM block ({e})")))?;
    let (rest, csr) = X509CertificationRequest::from_der(der.as_ref())
        .map_err(|e| CsrError::Malformed(format!("not a PKCS#10 request: {e}")))?;
    if !rest.is_empty() {
        return Err(CsrError::Malformed(format!(
            "{} bytes after the request",
            rest.len()
        )));
    }
    let info = &csr.certification_request_info;
    let key = key_of(&info.subject_pki)?;
    if !policy.allowed_keys.iter().any(|a| allows(*a, key)) {
        return Err(CsrError::KeyNotAllowed(describe(key)));
    }
    if let Some(asked) = policy.required_key {
        if !is_kind(asked, key) {
            return Err(CsrError::KeyNotAsked {
                found: describe(key),
                asked: asked.name(),
            });
        }
    }
    csr.verify_signature().map_err(|e| match e {
        X509Error::SignatureUnsupportedAlgorithm => {
            CsrError::UnsupportedSignature(csr.signature_algorithm.algorithm.to_id_string())
        }
        _ => CsrError::BadSignature,
    })?;
    check_challenge(&csr, &policy.challenge_field, challenge)?;
    check_extensions(&csr, identity)?;
    if policy.challenge_field.subject_oid().as_deref() != Some("2.5.4.3") {
        let expected = policy.common_name(identity);
        for cn in info.subject.iter_common_name() {
            let found = cn
                .as_str()
                .map_err(|_| CsrError::Malformed("subject CN is not a string".into()))?;
            let ours = found == expected
                || found == identity.serial
                || identity
                    .dns
                    .as_deref()
                    .is_some_and(|d| d.eq_ignore_ascii_case(found));
            if !ours {
                return Err(CsrError::ForeignSubject {
                    found: found.to_string(),
                    expected,
                });
            }
        }
    }
    Ok(CheckedCsr {
        spki_der: info.subject_pki.raw.to_vec(),
        key,
        serial: identity.serial.clone(),
    })
}

fn key_of(spki: &SubjectPublicKeyInfo<'_>) -> Result<CsrKey, CsrError> {
    let alg = spki.algorithm.algorithm.to_id_string();
    match alg.as_str() {
        OID_EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string())
                .unwrap_or_default();
            match curve.as_str() {
                OID_P256 => Ok(CsrKey::EcdsaP256),
                OID_P384 => Ok(CsrKey::EcdsaP384),
                other => Err(CsrError::KeyNotAllowed(format!("ECDSA on curve {other:?}"))),
            }
        }
        OID_ED25519 => Ok(CsrKey::Ed25519),
        OID_RSA => match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => {
                let modulus = strip_zeros(rsa.modulus);
                let bits = match modulus.first() {
                    Some(top) => modulus.len() * 8 - top.leading_zeros() as usize,
                    None => 0,
                };
                Ok(CsrKey::Rsa {
                    bits: u32::try_from(bits).unwrap_or(u32::MAX),
                })
            }
            _ => Err(CsrError::Malformed("RSA public key does not parse".into())),
        },
        other => Err(CsrError::KeyNotAllowed(format!("algorithm {other}"))),
    }
}

fn strip_zeros(mut b: &[u8]) -> &[u8] {
    while let [0, rest @ ..] = b {
        b = rest;
    }
    b
}

fn allows(allowed: AllowedKey, key: CsrKey) -> bool {
    match (allowed, key) {
        (AllowedKey::EcdsaP256, CsrKey::EcdsaP256)
        | (AllowedKey::EcdsaP384, CsrKey::EcdsaP384)
        | (AllowedKey::Ed25519, CsrKey::Ed25519) => true,
        (AllowedKey::Rsa { min_bits }, CsrKey::Rsa { bits }) => {
            bits >= min_bits && bits <= MAX_RSA_BITS
        }
        _ => false,
    }
}

/// Whether `key` is exactly the kind `asked` (an RSA kind: exactly that many bits).
fn is_kind(asked: AllowedKey, key: CsrKey) -> bool {
    match (asked, key) {
        (AllowedKey::Rsa { min_bits }, CsrKey::Rsa { bits }) => bits == min_bits,
        _ => allows(asked, key),
    }
}

fn describe(key: CsrKey) -> String {
    match key {
        CsrKey::EcdsaP256 => "ECDSA P-256".into(),
        CsrKey::EcdsaP384 => "ECDSA P-384".into(),
        CsrKey::Ed25519 => "Ed25519".into(),
        CsrKey::Rsa { bits } => format!("RSA {bits} bits"),
    }
}

fn check_challenge(
    csr: &X509CertificationRequest<'_>,
    field: &ChallengeField,
    challenge: &str,
) -> Result<(), CsrError> {
    let info = &csr.certification_request_info;
    let (place, found): (String, Vec<String>) = match field {
        ChallengeField::ChallengePassword => {
            let mut found = Vec::new();
            for attr in info.iter_attributes() {
                if attr.oid.to_id_string() != OID_CHALLENGE_PASSWORD {
                    continue;
                }
                match attr.parsed_attribute() {
                    ParsedCriAttribute::ChallengePassword(p) => found.push(p.0.clone()),
                    _ => return Err(CsrError::Malformed("unreadable challengePassword".into())),
                }
            }
            ("the challengePassword attribute".into(), found)
        }
        ChallengeField::SubjectField(name) => {
            let oid = field.subject_oid().ok_or_else(|| {
                CsrError::Malformed(format!("policy names unknown subject field {name:?}"))
            })?;
            let mut found = Vec::new();
            for attr in info.subject.iter_attributes() {
                if attr.attr_type().to_id_string() == oid {
                    let value = attr.as_str().map_err(|_| {
                        CsrError::Malformed(format!("subject field {name} is not a string"))
                    })?;
                    found.push(value.to_string());
                }
            }
            (format!("subject field {name}"), found)
        }
    };
    match found.as_slice() {
        [] => Err(CsrError::MissingChallenge(place)),
        [one] if eq_constant_time(one.as_bytes(), challenge.as_bytes()) => Ok(()),
        _ => Err(CsrError::ChallengeMismatch(place)),
    }
}

/// Compares without stopping at the first differing byte.
fn eq_constant_time(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn check_extensions(
    csr: &X509CertificationRequest<'_>,
    identity: &DeviceIdentity,
) -> Result<(), CsrError> {
    for attr in csr.certification_request_info.iter_attributes() {
        let ParsedCriAttribute::ExtensionRequest(request) = attr.parsed_attribute() else {
            continue;
        };
        for ext in &request.extensions {
            match ext.parsed_extension() {
                ParsedExtension::BasicConstraints(bc) if bc.ca => return Err(CsrError::RequestsCa),
                ParsedExtension::ExtendedKeyUsage(eku) if eku.any => {
                    return Err(CsrError::RequestsAnyEku)
                }
                ParsedExtension::SubjectAlternativeName(san) => {
                    for name in &san.general_names {
                        check_san(name, identity)?;
                    }
                }
                ParsedExtension::ParseError { error } => {
                    return Err(CsrError::Malformed(format!(
                        "requested extension {} does not parse: {error}",
                        ext.oid.to_id_string()
                    )))
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn check_san(name: &GeneralName<'_>, identity: &DeviceIdentity) -> Result<(), CsrError> {
    match name {
        GeneralName::DNSName(dns)
            if identity
                .dns
                .as_deref()
                .is_some_and(|d| d.eq_ignore_ascii_case(dns)) =>
        {
            Ok(())
        }
        GeneralName::IPAddress(bytes) => {
            let ip = match bytes.len() {
                4 => <[u8; 4]>::try_from(*bytes).ok().map(IpAddr::from),
                16 => <[u8; 16]>::try_from(*bytes).ok().map(IpAddr::from),
                _ => None,
            };
            match ip {
                Some(ip) if identity.ip == Some(ip) => Ok(()),
                Some(ip) => Err(CsrError::ForeignSan(format!("IP {ip}"))),
                None => Err(CsrError::ForeignSan(format!("IP of {} bytes", bytes.len()))),
            }
        }
        other => Err(CsrError::ForeignSan(other.to_string())),
    }
}
