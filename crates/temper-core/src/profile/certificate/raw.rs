//! The serde layer of the `[clock]` and `[certificate]` sections (unknown keys refused). Doc comments become
//! the descriptions in `provisioning-profiles/profile.schema.json`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use super::PlainHttpAfter;

/// How the station sets the device's clock (UTC) before any certificate step.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Clock")]
pub(crate) struct RawClock {
    /// Command that sets the clock; `{utc}` stands for "YYYY-MM-DD hh:mm:ss" (UTC), `{unix}` for Unix seconds.
    #[schemars(with = "String")]
    pub set_command: Spanned<String>,
    /// Command that prints the device's clock as Unix seconds (read back to prove the set worked).
    #[schemars(with = "String")]
    pub read_command: Spanned<String>,
    /// Largest difference between station and device clock accepted after setting, in seconds (default 120).
    #[schemars(with = "Option<u32>")]
    pub max_skew_seconds: Option<Spanned<u32>>,
}

/// Per-device certificates: on-device key generation, CSR, install and switch, and the station's policy.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Certificate")]
pub(crate) struct RawCertificate {
    /// Id of the service (in [[services]]) that serves or uses the certificate, e.g. "https".
    #[schemars(with = "String")]
    pub service: Spanned<String>,
    /// The device's TLS role: "server", "client" or "both" (sets the extended key usage).
    pub tls_role: RawTlsRole,
    /// Key/certificate slots on the device: 1 or 2. With 2, a renewal makes the new key and installs the new
    /// certificate in the slot not in use, switches, verifies from outside, switches back on failure, and
    /// only then deletes the old slot; the commands below then carry `{slot}`. With 1, the old certificate
    /// is served until the switch and Temper warns of the outage while the service restarts.
    #[schemars(with = "u8")]
    pub slots: Spanned<u8>,
    /// Command that makes a new private key on the device (it never leaves the device). `{key}` stands for the
    /// key type the station chooses, in the device's own words (see `key_names`); without `{key}` the device
    /// picks the type itself and any of `policy.allowed_keys` is accepted.
    #[schemars(with = "String")]
    pub genkey_command: Spanned<String>,
    /// With `{key}`: the key type made when the station does not choose one, a key kind of
    /// `policy.allowed_keys` (default: the first of them). The CSR's key must be of the type asked for.
    #[schemars(with = "Option<String>")]
    pub default_key: Option<Spanned<String>>,
    /// With `{key}` in `genkey_command`: each allowed key kind ("ecdsa-p256", "ecdsa-p384", "ed25519",
    /// "rsa-2048", "rsa-3072", "rsa-4096") mapped to the device's argument for it, e.g. ecdsa-p256 = "ec-p256".
    /// Every kind in `policy.allowed_keys` needs one, and only those may have one.
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub key_names: Option<BTreeMap<String, Spanned<String>>>,
    /// Regex the key-generation output must match.
    #[schemars(with = "String")]
    pub genkey_success: Spanned<String>,
    /// Command that prints a PKCS#10 CSR in PEM; `{cn}`, `{challenge}`, `{ip}`, `{dns}`, `{serial}` are filled
    /// in. `{challenge}` is required (a fresh random challenge, so a pre-made CSR is refused).
    #[schemars(with = "String")]
    pub csr_command: Spanned<String>,
    /// Command that reads a PEM chain (leaf first) from the console until a line `install_end`.
    #[schemars(with = "String")]
    pub install_command: Spanned<String>,
    /// The line that ends the PEM input.
    #[schemars(with = "String")]
    pub install_end: Spanned<String>,
    /// Regex the install output must match, with a named group `fingerprint` (SHA-256 hex of the leaf read back).
    #[schemars(with = "String")]
    pub install_success: Spanned<String>,
    /// Command that makes the TLS service use the installed certificate (e.g. restarts it).
    #[schemars(with = "String")]
    pub activate_command: Spanned<String>,
    /// Regex the activate output must match.
    #[schemars(with = "String")]
    pub activate_success: Spanned<String>,
    /// Command reporting which certificate is served and which is installed.
    #[schemars(with = "String")]
    pub status_command: Spanned<String>,
    /// Regex over the status output with a named group `fingerprint` (hex, or "none"): served now.
    #[schemars(with = "String")]
    pub serving_pattern: Spanned<String>,
    /// Regex over the status output with a named group `fingerprint` (hex, or "none"): installed (in slot
    /// `{slot}` when the model has two).
    #[schemars(with = "String")]
    pub installed_pattern: Spanned<String>,
    /// Two slots only: regex over the status output with a named group `slot` (1, 2, or "none"): the slot served.
    #[schemars(with = "Option<String>")]
    pub active_slot_pattern: Option<Spanned<String>>,
    /// Two slots only: command that deletes the key and certificate of slot `{slot}`.
    #[schemars(with = "Option<String>")]
    pub delete_command: Option<Spanned<String>>,
    /// Two slots only: regex the delete output must match.
    #[schemars(with = "Option<String>")]
    pub delete_success: Option<Spanned<String>>,
    /// What the station puts in the certificate (nothing is copied from the CSR but its key).
    pub policy: RawCertPolicy,
    /// Optional: once the certificate serves, the web admin moves off plain HTTP.
    pub plain_http: Option<RawPlainHttp>,
}

/// The device's TLS role.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RawTlsRole {
    /// TLS server (EKU serverAuth).
    Server,
    /// TLS client (EKU clientAuth).
    Client,
    /// Both.
    Both,
}

/// The station's certificate policy for the model.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CertPolicy")]
pub(crate) struct RawCertPolicy {
    /// Subject common name; `{serial}` stands for the device serial.
    #[schemars(with = "String")]
    pub subject_cn: Spanned<String>,
    /// Subject alternative names to include: "ip" (the address Temper reaches it at) and/or "dns" (`dns_name`).
    #[schemars(with = "Vec<String>")]
    pub san: Spanned<Vec<String>>,
    /// The device's DNS name, required with san "dns"; `{serial}` stands for the serial, e.g. "cam-{serial}.local".
    #[schemars(with = "Option<String>")]
    pub dns_name: Option<Spanned<String>>,
    /// Validity in days (default 365).
    #[schemars(with = "Option<u32>")]
    pub validity_days: Option<Spanned<u32>>,
    /// notBefore is backdated this many minutes for device clock skew (default 5).
    #[schemars(with = "Option<u32>")]
    pub backdate_minutes: Option<Spanned<u32>>,
    /// Key kinds the device may certify: "ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-2048", "rsa-3072", "rsa-4096".
    #[schemars(with = "Vec<String>")]
    pub allowed_keys: Spanned<Vec<String>>,
    /// Where the CSR carries the challenge: "challenge-password" (PKCS#9) or "subject:<field>" (e.g. "subject:serialNumber").
    #[schemars(with = "String")]
    pub challenge: Spanned<String>,
}

/// How plain HTTP is turned off or to a redirect once HTTPS serves the device's own certificate.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "PlainHttp")]
pub(crate) struct RawPlainHttp {
    /// "redirect" (port stays open, answers only with a redirect) or "closed".
    pub after: PlainHttpAfter,
    /// Command that does it.
    #[schemars(with = "String")]
    pub command: Spanned<String>,
    /// Regex its output must match.
    #[schemars(with = "String")]
    pub success: Spanned<String>,
    /// The plain HTTP port.
    #[schemars(with = "u16")]
    pub port: Spanned<u16>,
    /// Request path tried with the credential.
    #[schemars(with = "String")]
    pub path: Spanned<String>,
    /// Id of the credential store (in [[credentials]]) that must no longer be accepted over plain HTTP.
    #[schemars(with = "String")]
    pub credential: Spanned<String>,
}
