//! Per-device certificates: the station CA, CSR checks, signing, CRLs and chain verification.
//!
//! The flow this module serves (wired into the plan elsewhere):
//! 1. [`StationCa::generate`] (or [`StationCa::from_pem`] for a stored or imported CA);
//! 2. the device makes its own key and returns a PKCS#10 CSR carrying a fresh challenge;
//! 3. [`check_csr`] parses it (bounded), verifies its signature, and refuses a key kind the
//!    [`CertPolicy`] does not allow, a missing or wrong challenge, and requests for CA:TRUE,
//!    anyExtendedKeyUsage or names that are not the device's;
//! 4. [`StationCa::sign`] certifies only the CSR's public key: every other field comes from the policy;
//! 5. [`verify_served_chain`] proves from outside that what the device serves chains to the CA, names
//!    the device and carries the key from the CSR.
//!
//! Times are always injected ([`std::time::SystemTime`] arguments), so tests can move the clock.

mod ca;
mod csr;
mod policy;
mod verify;

pub use ca::{CaError, CaKeyKind, Revoked, SignedCert, StationCa};
pub use csr::{check_csr, CheckedCsr, CsrError, CsrKey, MAX_CSR_PEM_BYTES};
pub use policy::{AllowedKey, CertPolicy, ChallengeField, DeviceIdentity, TlsRole};
pub use rustls::pki_types::ServerName;
pub use verify::{verify_served_chain, VerifiedPeer, VerifyError, MAX_CHAIN_LEN};

use sha2::{Digest, Sha256};
use std::time::SystemTime;
use time::OffsetDateTime;

/// Lower-case hex SHA-256 of DER bytes (a certificate fingerprint).
pub fn fingerprint_sha256(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// The serial number of a PEM certificate (for a CRL entry), or why it cannot be read.
pub fn certificate_serial(cert_pem: &str) -> Result<Vec<u8>, CaError> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
        .map_err(|e| CaError::Certificate(format!("not a PEM certificate: {e}")))?;
    let cert = pem
        .parse_x509()
        .map_err(|e| CaError::Certificate(format!("not an X.509 certificate: {e}")))?;
    Ok(cert.raw_serial().to_vec())
}

/// A UTC time at whole-second precision, as X.509 encodes it.
fn to_asn1_time(t: SystemTime) -> OffsetDateTime {
    let t = OffsetDateTime::from(t);
    t.replace_nanosecond(0).unwrap_or(t)
}
