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
    /// "command" (default: set_command and read_command) or "smp-datetime" (driver "smp": the OS group's
    /// datetime command, read back the same way).
    #[schemars(with = "Option<ClockMethod>")]
    pub method: Option<Spanned<ClockMethod>>,
    /// Method "command": the command that sets the clock; `{utc}` stands for "YYYY-MM-DD hh:mm:ss" (UTC),
    /// `{unix}` for Unix seconds.
    #[schemars(with = "Option<String>")]
    pub set_command: Option<Spanned<String>>,
    /// Method "command": the command that prints the device's clock as Unix seconds (read back to prove the
    /// set worked).
    #[schemars(with = "Option<String>")]
    pub read_command: Option<Spanned<String>>,
    /// Largest difference between station and device clock accepted after setting, in seconds (default 120).
    #[schemars(with = "Option<u32>")]
    pub max_skew_seconds: Option<Spanned<u32>>,
}

/// How the device's clock is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ClockMethod {
    /// Shell commands (`set_command`, `read_command`).
    Command,
    /// The SMP OS group's datetime command (UTC), read back with the same command.
    SmpDatetime,
}

/// Per-device certificates: on-device key generation, CSR, install and switch, and the station's policy.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Certificate")]
pub(crate) struct RawCertificate {
    /// Id of the service (in [[services]]) that serves the certificate, e.g. "https". Required unless
    /// tls_role = "client" (a client serves nothing; `[certificate.client_check]` proves it instead).
    #[schemars(with = "Option<String>")]
    pub service: Option<Spanned<String>>,
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
    /// Command that installs the certificate. With `install_end` it reads a PEM chain (leaf first) typed after
    /// it until a line `install_end`; with `install_chunk_command` it stores the DER certificate staged by
    /// the chunk commands.
    #[schemars(with = "String")]
    pub install_command: Spanned<String>,
    /// The line that ends the PEM input (give this or `install_chunk_command`).
    #[schemars(with = "Option<String>")]
    pub install_end: Option<Spanned<String>>,
    /// Instead of typed PEM lines: a command run once per piece of the base64 DER certificate, `{chunk}`
    /// standing for the piece (e.g. Zephyr's TLS credentials shell, "cred buf {chunk}").
    #[schemars(with = "Option<String>")]
    pub install_chunk_command: Option<Spanned<String>>,
    /// With `install_chunk_command`: base64 characters per piece, a multiple of 4 (default 96).
    #[schemars(with = "Option<usize>")]
    pub install_chunk_size: Option<Spanned<usize>>,
    /// With `install_chunk_command`: a command run first that empties the staging buffer.
    #[schemars(with = "Option<String>")]
    pub install_clear_command: Option<Spanned<String>>,
    /// Regex the install output must match. A named group `fingerprint` (SHA-256 of the leaf, hex or base64)
    /// is read back; without it, the fingerprint is read back from `status_command` (`installed_pattern`).
    #[schemars(with = "String")]
    pub install_success: Spanned<String>,
    /// Command that makes the TLS service use the installed certificate (e.g. restarts it). Leave it out when
    /// the device uses a newly installed certificate by itself (a TLS client at its next connection).
    #[schemars(with = "Option<String>")]
    pub activate_command: Option<Spanned<String>>,
    /// Regex the activate output must match (with `activate_command`).
    #[schemars(with = "Option<String>")]
    pub activate_success: Option<Spanned<String>>,
    /// Command reporting which certificate is served and which is installed.
    #[schemars(with = "String")]
    pub status_command: Spanned<String>,
    /// Regex over the status output with a named group `fingerprint` (hex, or "none"): served now. Required
    /// unless tls_role = "client".
    #[schemars(with = "Option<String>")]
    pub serving_pattern: Option<Spanned<String>>,
    /// Regex over the status output with a named group `fingerprint` (SHA-256 as hex or base64, or "none"):
    /// installed (in slot `{slot}` when the model has two). A match in which the group took no part (an
    /// alternative matching the end of a listing) also means none.
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
    /// TLS clients (required with tls_role = "client"): how Temper proves from outside that the device
    /// presents its new certificate with its own key.
    pub client_check: Option<RawClientCheck>,
}

/// How Temper proves a TLS client's certificate: it installs the station CA as a trust anchor, points the
/// device's endpoint setting at a client-authenticating TLS endpoint it runs itself, makes the device connect,
/// checks the chain and key presented, then restores the site's setting and reads it back.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ClientCheck")]
pub(crate) struct RawClientCheck {
    /// Command that installs the station CA certificate as a trust anchor, sent the same way as the
    /// device certificate (typed PEM or DER chunks).
    #[schemars(with = "String")]
    pub trust_anchor_command: Spanned<String>,
    /// Regex the trust-anchor install output must match.
    #[schemars(with = "String")]
    pub trust_anchor_success: Spanned<String>,
    /// Regex over the `status_command` output with a named group `fingerprint` (SHA-256, hex or base64):
    /// the trust anchor installed.
    #[schemars(with = "String")]
    pub trust_anchor_pattern: Spanned<String>,
    /// The SMP setting holding where the device connects, as "host:port" (driver "smp").
    #[schemars(with = "String")]
    pub endpoint_setting: Spanned<String>,
    /// Command that makes the device connect now.
    #[schemars(with = "String")]
    pub connect_command: Spanned<String>,
    /// Regex the connect output matches when the connection succeeded.
    #[schemars(with = "String")]
    pub connect_success: Spanned<String>,
    /// What the device speaks inside TLS, so Temper's endpoint can answer it: "mqtt" (CONNECT is answered
    /// with CONNACK) or "none" (the endpoint closes after the handshake).
    pub application: ClientApplication,
}

/// The application protocol a TLS client speaks to its endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ClientApplication {
    /// MQTT 3.1.1: the endpoint reads CONNECT and answers CONNACK (accepted).
    Mqtt,
    /// Nothing: the endpoint closes after the handshake.
    None,
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
