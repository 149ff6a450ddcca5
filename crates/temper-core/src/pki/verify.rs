//! Verifying, from outside, the certificate chain a device serves.

use super::fingerprint_sha256;
use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, RootCertStore};
use std::sync::Arc;
use std::time::SystemTime;

/// The longest chain (leaf included) accepted; longer ones are refused before any parsing.
pub const MAX_CHAIN_LEN: usize = 8;
const MAX_CERT_DER_BYTES: usize = 64 * 1024;

/// What was proven about a served chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPeer {
    /// Lower-case hex SHA-256 of the leaf certificate's DER.
    pub leaf_fingerprint_sha256: String,
    /// End of the leaf's validity.
    pub not_after: SystemTime,
}

/// Why a served chain was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The device served no certificate.
    #[error("the device served no certificate")]
    EmptyChain,
    /// The chain is longer than [`MAX_CHAIN_LEN`].
    #[error("the served chain has {len} certificates, more than the {max} accepted")]
    ChainTooLong {
        /// Certificates served.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// A served certificate is too large to be a device certificate.
    #[error("served certificate {index} is {len} bytes, over the limit")]
    CertTooLarge {
        /// Position in the chain (0 = leaf).
        index: usize,
        /// Its size.
        len: usize,
    },
    /// The CA certificate given to verify against is unusable.
    #[error("CA certificate: {0}")]
    BadCa(String),
    /// The chain does not lead to the expected CA.
    #[error("the served certificate is not issued by the expected CA")]
    UnknownIssuer,
    /// A signature in the chain does not verify (for example, a CA with the expected CA's name but
    /// another key signed it).
    #[error(
        "a certificate in the served chain is not signed by the expected CA's key (bad signature)"
    )]
    BadSignature,
    /// The leaf's SAN does not cover the name or address the device was reached at.
    #[error("the served certificate is not valid for {0}")]
    NameMismatch(String),
    /// The leaf (or a chain member) has expired at the verification time.
    #[error("the served certificate has expired")]
    Expired,
    /// The leaf (or a chain member) is not valid yet at the verification time.
    #[error("the served certificate is not valid yet (device or station clock wrong?)")]
    NotYetValid,
    /// The leaf is not for TLS server use.
    #[error("the served certificate is not for TLS server authentication (EKU)")]
    WrongPurpose,
    /// The leaf's public key is not the key from the device's CSR.
    #[error("the served certificate's public key is not the key from the device's CSR")]
    KeyMismatch,
    /// Any other verification failure.
    #[error("certificate verification failed: {0}")]
    Other(String),
}

/// Verifies a served chain (leaf first, DER) against the CA in `ca_pem` at time `now`: it chains to
/// the CA, is valid for `expected_name` (DNS name or IP address in the SAN) and for TLS server use,
/// and its leaf's SubjectPublicKeyInfo equals `expected_spki` (from [`super::CheckedCsr::spki_der`]).
pub fn verify_served_chain(
    chain_der: &[Vec<u8>],
    ca_pem: &str,
    expected_name: &ServerName<'_>,
    expected_spki: &[u8],
    now: SystemTime,
) -> Result<VerifiedPeer, VerifyError> {
    if chain_der.len() > MAX_CHAIN_LEN {
        return Err(VerifyError::ChainTooLong {
            len: chain_der.len(),
            max: MAX_CHAIN_LEN,
        });
    }
    let Some((leaf, intermediates)) = chain_der.split_first() else {
        return Err(VerifyError::EmptyChain);
    };
    if let Some((index, c)) = chain_der
        .iter()
        .enumerate()
        .find(|(_, c)| c.len() > MAX_CERT_DER_BYTES)
    {
        return Err(VerifyError::CertTooLarge {
            index,
            len: c.len(),
        });
    }
    let ca = CertificateDer::from_pem_slice(ca_pem.as_bytes())
        .map_err(|e| VerifyError::BadCa(format!("no CERTIFICATE PEM block ({e})")))?;
    let mut roots = RootCertStore::empty();
    roots
        .add(ca)
        .map_err(|e| VerifyError::BadCa(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| VerifyError::BadCa(e.to_string()))?;
    let leaf_der = CertificateDer::from(leaf.as_slice());
    let intermediates: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    let unix = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| VerifyError::Other("verification time before 1970".into()))?;
    verifier
        .verify_server_cert(
            &leaf_der,
            &intermediates,
            expected_name,
            &[],
            UnixTime::since_unix_epoch(unix),
        )
        .map_err(|e| map_error(e, expected_name))?;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf)
        .map_err(|e| VerifyError::Other(format!("leaf does not parse: {e}")))?;
    if cert.public_key().raw != expected_spki {
        return Err(VerifyError::KeyMismatch);
    }
    let not_after = SystemTime::UNIX_EPOCH
        + std::time::Duration::from_secs(
            u64::try_from(cert.validity().not_after.timestamp()).unwrap_or(0),
        );
    Ok(VerifiedPeer {
        leaf_fingerprint_sha256: fingerprint_sha256(leaf),
        not_after,
    })
}

fn map_error(e: rustls::Error, name: &ServerName<'_>) -> VerifyError {
    let rustls::Error::InvalidCertificate(e) = e else {
        return VerifyError::Other(e.to_string());
    };
    match e {
        CertificateError::UnknownIssuer => VerifyError::UnknownIssuer,
        CertificateError::BadSignature => VerifyError::BadSignature,
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            VerifyError::NameMismatch(name.to_str().into_owned())
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => VerifyError::Expired,
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            VerifyError::NotYetValid
        }
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            VerifyError::WrongPurpose
        }
        other => VerifyError::Other(format!("{other:?}")),
    }
}
