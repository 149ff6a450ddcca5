//! What a device certificate contains, decided by the station (never by the CSR).

use std::net::IpAddr;

/// The device a certificate is for, as Temper identified it (not as the CSR claims).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// The device serial number (Temper's key for the device).
    pub serial: String,
    /// The device's DNS name, when it has one.
    pub dns: Option<String>,
    /// The device's IP address, when it is reached by address.
    pub ip: Option<IpAddr>,
}

/// The TLS role the device's certificate is for; it sets the extended key usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsRole {
    /// A TLS server (EKU serverAuth).
    #[default]
    Server,
    /// A TLS client (EKU clientAuth).
    Client,
    /// Both (EKU serverAuth and clientAuth).
    Both,
}

/// A public key kind a device may certify (or, chosen by the station, must make).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowedKey {
    /// ECDSA on NIST P-256.
    EcdsaP256,
    /// ECDSA on NIST P-384.
    EcdsaP384,
    /// Ed25519.
    Ed25519,
    /// RSA with a modulus of at least this many bits (and at most 8192).
    Rsa {
        /// Smallest modulus accepted, in bits.
        min_bits: u32,
    },
}

impl AllowedKey {
    /// Every kind Temper knows, by its name in profiles and settings.
    pub const NAMES: [&'static str; 6] = [
        "ecdsa-p256",
        "ecdsa-p384",
        "ed25519",
        "rsa-2048",
        "rsa-3072",
        "rsa-4096",
    ];

    /// The kind named `name` (one of [`AllowedKey::NAMES`]).
    pub fn from_name(name: &str) -> Option<AllowedKey> {
        Some(match name {
            "ecdsa-p256" => AllowedKey::EcdsaP256,
            "ecdsa-p384" => AllowedKey::EcdsaP384,
            "ed25519" => AllowedKey::Ed25519,
            "rsa-2048" => AllowedKey::Rsa { min_bits: 2048 },
            "rsa-3072" => AllowedKey::Rsa { min_bits: 3072 },
            "rsa-4096" => AllowedKey::Rsa { min_bits: 4096 },
            _ => return None,
        })
    }

    /// Its name in profiles and settings, e.g. `ecdsa-p256` or `rsa-3072`.
    pub fn name(self) -> String {
        match self {
            AllowedKey::EcdsaP256 => "ecdsa-p256".into(),
            AllowedKey::EcdsaP384 => "ecdsa-p384".into(),
            AllowedKey::Ed25519 => "ed25519".into(),
            AllowedKey::Rsa { min_bits } => format!("rsa-{min_bits}"),
        }
    }
}

impl std::fmt::Display for AllowedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// Where the device must put the station's freshness challenge in its CSR.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ChallengeField {
    /// The PKCS#9 challengePassword attribute (OID 1.2.840.113549.1.9.7).
    #[default]
    ChallengePassword,
    /// A subject attribute: a dotted OID or one of `CN`, `serialNumber`, `C`, `L`, `ST`, `O`, `OU`,
    /// `title`, `description`, `unstructuredName`.
    SubjectField(String),
}

impl ChallengeField {
    /// The dotted OID of a subject field name, or `None` for the challengePassword attribute or an
    /// unknown name.
    pub(crate) fn subject_oid(&self) -> Option<String> {
        let ChallengeField::SubjectField(name) = self else {
            return None;
        };
        let oid = match name.as_str() {
            "CN" | "commonName" => "2.5.4.3",
            "serialNumber" => "2.5.4.5",
            "C" => "2.5.4.6",
            "L" => "2.5.4.7",
            "ST" => "2.5.4.8",
            "O" => "2.5.4.10",
            "OU" => "2.5.4.11",
            "title" => "2.5.4.12",
            "description" => "2.5.4.13",
            "unstructuredName" => "1.2.840.113549.1.9.2",
            other if other.split('.').count() > 1 && other.split('.').all(is_arc) => other,
            _ => return None,
        };
        Some(oid.to_string())
    }
}

fn is_arc(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The station's certificate policy for one device model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertPolicy {
    /// Subject common name; `{serial}` is replaced by the device serial.
    pub subject_cn: String,
    /// Put the device's DNS name (when known) in the SAN.
    pub san_dns: bool,
    /// Put the device's IP address (when known) in the SAN.
    pub san_ip: bool,
    /// The TLS role, which sets the extended key usage.
    pub tls_role: TlsRole,
    /// Validity from the signing time, in days.
    pub validity_days: u32,
    /// notBefore is set this many minutes before the signing time, for device clock skew.
    pub backdate_minutes: u32,
    /// Key kinds the device may certify.
    pub allowed_keys: Vec<AllowedKey>,
    /// The kind the station told the device to make: a CSR with any other key is refused (an RSA kind then
    /// means exactly that many bits). `None`: any of `allowed_keys`.
    pub required_key: Option<AllowedKey>,
    /// Where the CSR must carry the challenge.
    pub challenge_field: ChallengeField,
}

impl Default for CertPolicy {
    fn default() -> Self {
        CertPolicy {
            subject_cn: "{serial}".to_string(),
            san_dns: true,
            san_ip: true,
            tls_role: TlsRole::Server,
            validity_days: 365,
            backdate_minutes: 5,
            allowed_keys: vec![
                AllowedKey::EcdsaP256,
                AllowedKey::EcdsaP384,
                AllowedKey::Ed25519,
                AllowedKey::Rsa { min_bits: 2048 },
            ],
            required_key: None,
            challenge_field: ChallengeField::ChallengePassword,
        }
    }
}

impl CertPolicy {
    /// The subject common name for this device.
    pub fn common_name(&self, identity: &DeviceIdentity) -> String {
        self.subject_cn.replace("{serial}", &identity.serial)
    }

    /// This policy with `kind` required of every CSR. Refused when `allowed_keys` does not list `kind`: a
    /// choice can only narrow what the policy allows.
    pub fn with_key(&self, kind: AllowedKey) -> Result<CertPolicy, String> {
        if !self.allowed_keys.contains(&kind) {
            return Err(format!(
                "{kind} is not among the key types this profile allows ({})",
                self.allowed_names().join(", ")
            ));
        }
        Ok(CertPolicy {
            required_key: Some(kind),
            ..self.clone()
        })
    }

    /// The names of `allowed_keys`, in the profile's order.
    pub fn allowed_names(&self) -> Vec<String> {
        self.allowed_keys.iter().map(|k| k.name()).collect()
    }
}
