//! The station CA: generated or imported, it signs device certificates and CRLs.

use super::csr::{CheckedCsr, CsrKey};
use super::policy::{CertPolicy, DeviceIdentity, TlsRole};
use super::{fingerprint_sha256, to_asn1_time};
use crate::Secret;
use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevokedCertParams, SanType, SerialNumber, SignatureAlgorithm, SubjectPublicKeyInfo,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use time::OffsetDateTime;
use x509_parser::extensions::ParsedExtension;

/// Largest CA certificate or key PEM accepted by [`StationCa::from_pem`].
const MAX_CA_PEM_BYTES: usize = 64 * 1024;
/// Validity of a generated station CA.
const CA_VALIDITY_DAYS: u64 = 3650;

/// The station CA's key algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CaKeyKind {
    /// ECDSA P-256 with SHA-256 (the default).
    #[default]
    EcdsaP256,
    /// ECDSA P-384 with SHA-384.
    EcdsaP384,
    /// Ed25519.
    Ed25519,
    /// RSA-3072 with SHA-256, for device models that accept nothing else. The `ring` provider cannot
    /// generate RSA keys: make the key elsewhere and use [`StationCa::from_pem`].
    Rsa3072,
}

/// Why a CA operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// This key kind cannot be generated here.
    #[error(
        "cannot generate a {0:?} CA key here (ring cannot make RSA keys): create it with \
         `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072` and import it"
    )]
    KeyGenerationUnavailable(CaKeyKind),
    /// The CA key could not be made, read or used.
    #[error("CA key: {0}")]
    Key(String),
    /// The CA certificate could not be made or read.
    #[error("CA certificate: {0}")]
    Certificate(String),
    /// An imported certificate is not a CA certificate.
    #[error("not a CA certificate (it needs BasicConstraints CA:TRUE and, if it has key usage, keyCertSign)")]
    NotACa,
    /// The imported key is not the key of the imported certificate.
    #[error("the CA key does not belong to the CA certificate")]
    KeyMismatch,
    /// The CSR was checked for another device.
    #[error("the CSR was checked for device {checked:?}, not for {signing:?}")]
    IdentityMismatch {
        /// Serial the CSR was checked for.
        checked: String,
        /// Serial being signed for.
        signing: String,
    },
    /// Signing a certificate or CRL failed.
    #[error("signing failed: {0}")]
    Signing(String),
}

/// A certificate signed by the station CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCert {
    /// PEM encoding.
    pub pem: String,
    /// DER encoding.
    pub der: Vec<u8>,
    /// Lower-case hex SHA-256 of the DER.
    pub fingerprint_sha256: String,
    /// Serial number (big-endian, positive), for revocation.
    pub serial: Vec<u8>,
    /// Start of validity (backdated by the policy).
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
}

/// A revoked certificate, for [`StationCa::crl`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// The certificate's serial number ([`SignedCert::serial`]).
    pub serial: Vec<u8>,
    /// When it was revoked.
    pub revoked_at: SystemTime,
}

/// The station's certificate authority: its certificate and signing key.
pub struct StationCa {
    issuer: Issuer<'static, KeyPair>,
    key_id: KeyIdMethod,
    cert_der: Vec<u8>,
    cert_pem: String,
}

impl fmt::Debug for StationCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StationCa")
            .field("fingerprint_sha256", &fingerprint_sha256(&self.cert_der))
            .field("key", &"<redacted>")
            .finish()
    }
}

impl StationCa {
    /// Generates a self-signed CA named `name` (BasicConstraints CA:TRUE, pathlen 0; key usage
    /// keyCertSign and cRLSign), valid from five minutes before `now` for ten years.
    pub fn generate(kind: CaKeyKind, name: &str, now: SystemTime) -> Result<Self, CaError> {
        let alg: &'static SignatureAlgorithm = match kind {
            CaKeyKind::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            CaKeyKind::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            CaKeyKind::Ed25519 => &rcgen::PKCS_ED25519,
            CaKeyKind::Rsa3072 => return Err(CaError::KeyGenerationUnavailable(kind)),
        };
        let key = KeyPair::generate_for(alg).map_err(|e| CaError::Key(e.to_string()))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.serial_number = Some(random_serial());
        params.not_before = to_asn1_time(now - Duration::from_secs(5 * 60));
        params.not_after = to_asn1_time(now + Duration::from_secs(CA_VALIDITY_DAYS * 86_400));
        let cert = params
            .self_signed(&key)
            .map_err(|e| CaError::Certificate(e.to_string()))?;
        Ok(StationCa {
            key_id: params.key_identifier_method.clone(),
            cert_der: cert.der().to_vec(),
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// Loads a CA from its certificate and PKCS#8 key (PEM): a stored station CA, or an intermediate
    /// issued by the user's own root. The key must belong to the certificate.
    pub fn from_pem(cert_pem: &str, key_pem: &Secret) -> Result<Self, CaError> {
        if cert_pem.len() > MAX_CA_PEM_BYTES || key_pem.len() > MAX_CA_PEM_BYTES {
            return Err(CaError::Certificate(format!(
                "PEM over {MAX_CA_PEM_BYTES} bytes"
            )));
        }
        let der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| CaError::Certificate(format!("no CERTIFICATE PEM block ({e})")))?;
        let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
            .map_err(|e| CaError::Certificate(e.to_string()))?;
        let is_ca = matches!(cert.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
        let signs = match cert.key_usage() {
            Ok(Some(ku)) => ku.value.key_cert_sign(),
            Ok(None) => true,
            Err(_) => false,
        };
        if !is_ca || !signs {
            return Err(CaError::NotACa);
        }
        let key = KeyPair::from_pem(key_pem.expose()).map_err(|e| CaError::Key(e.to_string()))?;
        if rcgen::PublicKeyData::subject_public_key_info(&key) != cert.public_key().raw {
            return Err(CaError::KeyMismatch);
        }
        let key_id = cert
            .iter_extensions()
            .find_map(|ext| match ext.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(id) => {
                    Some(KeyIdMethod::PreSpecified(id.0.to_vec()))
                }
                _ => None,
            })
            .unwrap_or(KeyIdMethod::Sha256);
        let issuer =
            Issuer::from_ca_cert_der(&der, key).map_err(|e| CaError::Certificate(e.to_string()))?;
        Ok(StationCa {
            issuer,
            key_id,
            cert_der: der.to_vec(),
            cert_pem: cert_pem.to_string(),
        })
    }

    /// The CA certificate, PEM (public: export it to trust stores).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// End of the CA certificate's validity (the far future if it cannot be read).
    pub fn not_after(&self) -> SystemTime {
        x509_parser::parse_x509_certificate(&self.cert_der)
            .ok()
            .and_then(|(_, c)| u64::try_from(c.validity().not_after.timestamp()).ok())
            .map_or(UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX)), |t| {
                UNIX_EPOCH + Duration::from_secs(t)
            })
    }

    /// The CA's private key as PKCS#8 PEM. Seal it; never write it to a plain file.
    pub fn key_pem(&self) -> Secret {
        Secret::new(self.issuer.key().serialize_pem())
    }

    /// Signs a certificate for the CSR's public key. Only the key comes from the CSR: subject, SANs,
    /// key usage, EKU, BasicConstraints CA:FALSE and validity come from `policy` and `identity`.
    pub fn sign(
        &self,
        csr: &CheckedCsr,
        policy: &CertPolicy,
        identity: &DeviceIdentity,
        now: SystemTime,
    ) -> Result<SignedCert, CaError> {
        if csr.serial() != identity.serial {
            return Err(CaError::IdentityMismatch {
                checked: csr.serial().to_string(),
                signing: identity.serial.clone(),
            });
        }
        let public = SubjectPublicKeyInfo::from_der(csr.spki_der())
            .map_err(|e| CaError::Key(format!("CSR public key: {e}")))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, policy.common_name(identity));
        if let (true, Some(dns)) = (policy.san_dns, &identity.dns) {
            let name = dns
                .as_str()
                .try_into()
                .map_err(|_| CaError::Signing(format!("DNS name {dns:?} is not IA5")))?;
            params.subject_alt_names.push(SanType::DnsName(name));
        }
        if let (true, Some(ip)) = (policy.san_ip, identity.ip) {
            params.subject_alt_names.push(SanType::IpAddress(ip));
        }
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if matches!(csr.key(), CsrKey::Rsa { .. }) {
            params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
        }
        params.extended_key_usages = match policy.tls_role {
            TlsRole::Server => vec![ExtendedKeyUsagePurpose::ServerAuth],
            TlsRole::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
            TlsRole::Both => vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
        };
        params.use_authority_key_identifier_extension = true;
        let serial = random_serial();
        params.serial_number = Some(serial.clone());
        let not_before = now - Duration::from_secs(u64::from(policy.backdate_minutes) * 60);
        // Never past the CA's own end: a certificate outliving its issuer fails validation when the CA expires.
        let not_after = (now + Duration::from_secs(u64::from(policy.validity_days) * 86_400))
            .min(self.not_after());
        params.not_before = to_asn1_time(not_before);
        params.not_after = to_asn1_time(not_after);
        let cert = params
            .signed_by(&public, &self.issuer)
            .map_err(|e| CaError::Signing(e.to_string()))?;
        Ok(SignedCert {
            pem: cert.pem(),
            der: cert.der().to_vec(),
            fingerprint_sha256: fingerprint_sha256(cert.der()),
            serial: serial.to_bytes(),
            not_before: from_asn1_time(params.not_before),
            not_after: from_asn1_time(params.not_after),
        })
    }

    /// A CRL (PEM) listing `revoked`, issued at `now` and due again at `next_update`. Its CRL number
    /// is `now` in Unix seconds, so later CRLs have larger numbers.
    pub fn crl(
        &self,
        revoked: &[Revoked],
        now: SystemTime,
        next_update: SystemTime,
    ) -> Result<String, CaError> {
        let number = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let params = CertificateRevocationListParams {
            this_update: to_asn1_time(now),
            next_update: to_asn1_time(next_update),
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|r| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&r.serial),
                    revocation_time: to_asn1_time(r.revoked_at),
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: self.key_id.clone(),
        };
        let crl = params
            .signed_by(&self.issuer)
            .map_err(|e| CaError::Signing(e.to_string()))?;
        crl.pem().map_err(|e| CaError::Signing(e.to_string()))
    }
}

impl StationCa {
    /// A short-lived TLS server certificate for Temper's own verification endpoint at `ip` (a fresh
    /// ECDSA P-256 key, EKU serverAuth, SAN `ip`, valid from five minutes before `now` for one hour), so a
    /// device that trusts the station CA accepts the endpoint. Returns the certificate and the PKCS#8 key (DER).
    pub fn issue_endpoint(
        &self,
        ip: std::net::IpAddr,
        now: SystemTime,
    ) -> Result<(Vec<u8>, zeroize::Zeroizing<Vec<u8>>), CaError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| CaError::Key(e.to_string()))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "Temper verification endpoint");
        params.subject_alt_names.push(SanType::IpAddress(ip));
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial());
        params.not_before = to_asn1_time(now - Duration::from_secs(5 * 60));
        params.not_after = to_asn1_time((now + Duration::from_secs(3600)).min(self.not_after()));
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| CaError::Signing(e.to_string()))?;
        Ok((
            cert.der().to_vec(),
            zeroize::Zeroizing::new(key.serialize_der()),
        ))
    }
}

/// A random positive 127-bit serial number (RFC 5280: at most 20 octets, unpredictable).
fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

fn from_asn1_time(t: OffsetDateTime) -> SystemTime {
    SystemTime::from(t)
}
