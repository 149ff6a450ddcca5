//! The `[clock]` and `[certificate]` sections: how a model's clock is set, how it makes a key and a CSR,
//! how a certificate chain is installed and switched to, and what the station's certificate policy is.
//!
//! Raw (serde) structs, their checks and the typed model live together here, as for one section they are
//! read together.

use regex::Regex;
use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use super::error::{Issue, ProfileErrorKind as Kind};
use super::raw::RawProfile;
use super::validate::{command, compile};
use crate::pki::{AllowedKey, CertPolicy, ChallengeField, TlsRole};

/// Placeholders a certificate-section command may use.
const CLOCK_PLACEHOLDERS: &[&str] = &["{utc}", "{unix}"];
const CSR_PLACEHOLDERS: &[&str] = &["{cn}", "{challenge}", "{ip}", "{dns}", "{serial}"];
/// Longest clock skew a profile may tolerate.
const MAX_SKEW_SECONDS: u32 = 3600;
/// Longest certificate validity a profile may ask for (about 5 years).
const MAX_VALIDITY_DAYS: u32 = 1826;

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
    /// Key/certificate slots on the device. Only 1 is supported so far: a renewal installs the new certificate
    /// while the old one is still served, then switches, and Temper warns of the outage while it does.
    #[schemars(with = "u8")]
    pub slots: Spanned<u8>,
    /// Command that makes a new private key on the device (it never leaves the device).
    #[schemars(with = "String")]
    pub genkey_command: Spanned<String>,
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
    /// Regex over the status output with a named group `fingerprint` (hex, or "none"): installed.
    #[schemars(with = "String")]
    pub installed_pattern: Spanned<String>,
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
    /// Subject alternative names to include: "ip" (the address Temper reaches it at) and/or "dns".
    #[schemars(with = "Vec<String>")]
    pub san: Spanned<Vec<String>>,
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

/// What plain HTTP does after hardening.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PlainHttpAfter {
    /// Only redirects to HTTPS; authenticates nothing.
    Redirect,
    /// The port is closed.
    Closed,
}

/// How the clock is set (typed).
#[derive(Debug, Clone)]
pub struct ClockSpec {
    /// Template with `{utc}` or `{unix}`.
    pub set_command: String,
    /// Prints Unix seconds.
    pub read_command: String,
    /// Largest accepted skew after setting.
    pub max_skew_seconds: u32,
}

impl ClockSpec {
    /// The set command for the Unix time `unix`.
    pub fn set_command_for(&self, unix: u64) -> String {
        let utc = time::OffsetDateTime::from_unix_timestamp(unix as i64)
            .map(|t| {
                format!(
                    "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                    t.year(),
                    u8::from(t.month()),
                    t.day(),
                    t.hour(),
                    t.minute(),
                    t.second()
                )
            })
            .unwrap_or_default();
        self.set_command
            .replace("{utc}", &utc)
            .replace("{unix}", &unix.to_string())
    }
}

/// Plain HTTP after hardening (typed).
#[derive(Debug, Clone)]
pub struct PlainHttpSpec {
    /// Redirect or closed.
    pub after: PlainHttpAfter,
    /// The command.
    pub command: String,
    /// Its success pattern.
    pub success: Regex,
    /// The port.
    pub port: u16,
    /// The path tried.
    pub path: String,
    /// The credential store that must be refused over plain HTTP.
    pub credential: String,
}

/// Per-device certificate handling of a model (typed).
#[derive(Debug, Clone)]
pub struct CertificateSpec {
    /// Service id the certificate is for.
    pub service: String,
    /// Key/certificate slots on the device.
    pub slots: u8,
    /// Makes a key.
    pub genkey_command: String,
    /// Key generation succeeded.
    pub genkey_success: Regex,
    /// CSR command template.
    pub csr_command: String,
    /// Reads a PEM chain until `install_end`.
    pub install_command: String,
    /// The line ending the PEM input.
    pub install_end: String,
    /// Install succeeded; group `fingerprint`.
    pub install_success: Regex,
    /// Switches the service to the installed certificate.
    pub activate_command: String,
    /// Activation succeeded.
    pub activate_success: Regex,
    /// Reports served and installed certificates.
    pub status_command: String,
    /// Group `fingerprint`: served.
    pub serving_pattern: Regex,
    /// Group `fingerprint`: installed.
    pub installed_pattern: Regex,
    /// The station's policy.
    pub policy: CertPolicy,
    /// Plain HTTP after hardening, if the model has a web admin on plain HTTP.
    pub plain_http: Option<PlainHttpSpec>,
}

/// Fills the CSR command template. Values are inserted as they are: the caller passes only values it
/// made (serial and address checked at identification, a hex challenge, the policy's CN).
pub fn render_csr_command(template: &str, values: &[(&str, &str)]) -> String {
    values
        .iter()
        .fold(template.to_string(), |acc, (k, v)| acc.replace(k, v))
}

/// Checks both sections (both optional; a certificate section needs a clock section).
pub(crate) fn check(raw: &RawProfile) -> Result<(), Issue> {
    if let Some(clock) = &raw.clock {
        check_clock(clock)?;
    }
    let Some(c) = &raw.certificate else {
        return Ok(());
    };
    if raw.clock.is_none() {
        return Err(Issue::at(
            Kind::BadReference,
            &c.service,
            "certificate",
            "a [certificate] section needs a [clock] section",
            "add [clock] with set_command and read_command: devices that boot in 1970 refuse valid certificates",
        ));
    }
    if !raw
        .services
        .iter()
        .any(|s| s.get_ref().id.get_ref() == c.service.get_ref())
    {
        return Err(Issue::at(
            Kind::BadReference,
            &c.service,
            "certificate.service",
            format!("no service with id {:?}", c.service.get_ref()),
            "name the [[services]] entry that serves TLS",
        ));
    }
    if *c.slots.get_ref() != 1 {
        return Err(Issue::at(
            Kind::InvalidValue,
            &c.slots,
            "certificate.slots",
            "only slots = 1 is supported so far",
            "two-slot make-before-break needs per-slot commands this Temper does not read yet; declare slots = 1 \
             (Temper then warns of the outage while the service switches)",
        ));
    }
    for (value, field) in [
        (&c.genkey_command, "certificate.genkey_command"),
        (&c.install_command, "certificate.install_command"),
        (&c.install_end, "certificate.install_end"),
        (&c.activate_command, "certificate.activate_command"),
        (&c.status_command, "certificate.status_command"),
    ] {
        command(value, field)?;
    }
    command(&c.csr_command, "certificate.csr_command")?;
    placeholders(&c.csr_command, "certificate.csr_command", CSR_PLACEHOLDERS)?;
    if !c.csr_command.get_ref().contains("{challenge}") {
        return Err(Issue::at(
            Kind::InvalidValue,
            &c.csr_command,
            "certificate.csr_command",
            "has no {challenge}",
            "pass the station's challenge to the device, e.g. --challenge '{challenge}'",
        ));
    }
    compile(&c.genkey_success, "certificate.genkey_success", None)?;
    compile(
        &c.install_success,
        "certificate.install_success",
        Some("fingerprint"),
    )?;
    compile(&c.activate_success, "certificate.activate_success", None)?;
    compile(
        &c.serving_pattern,
        "certificate.serving_pattern",
        Some("fingerprint"),
    )?;
    compile(
        &c.installed_pattern,
        "certificate.installed_pattern",
        Some("fingerprint"),
    )?;
    policy(&c.policy, c.tls_role)?;
    if let Some(p) = &c.plain_http {
        command(&p.command, "certificate.plain_http.command")?;
        compile(&p.success, "certificate.plain_http.success", None)?;
        if !raw
            .credentials
            .iter()
            .any(|s| s.get_ref().id.get_ref() == p.credential.get_ref())
        {
            return Err(Issue::at(
                Kind::BadReference,
                &p.credential,
                "certificate.plain_http.credential",
                format!("no credential store with id {:?}", p.credential.get_ref()),
                "name the [[credentials]] entry of the web admin",
            ));
        }
        if !p.path.get_ref().starts_with('/') {
            return Err(Issue::at(
                Kind::InvalidValue,
                &p.path,
                "certificate.plain_http.path",
                "must start with '/'",
                "write a request path such as \"/\"",
            ));
        }
    }
    Ok(())
}

fn check_clock(clock: &RawClock) -> Result<(), Issue> {
    command(&clock.set_command, "clock.set_command")?;
    placeholders(&clock.set_command, "clock.set_command", CLOCK_PLACEHOLDERS)?;
    if !CLOCK_PLACEHOLDERS
        .iter()
        .any(|p| clock.set_command.get_ref().contains(p))
    {
        return Err(Issue::at(
            Kind::InvalidValue,
            &clock.set_command,
            "clock.set_command",
            "has neither {utc} nor {unix}",
            "write where the time goes, e.g. date -u -s '{utc}'",
        ));
    }
    command(&clock.read_command, "clock.read_command")?;
    if let Some(skew) = &clock.max_skew_seconds {
        if *skew.get_ref() == 0 || *skew.get_ref() > MAX_SKEW_SECONDS {
            return Err(Issue::at(
                Kind::InvalidValue,
                skew,
                "clock.max_skew_seconds",
                format!("must be between 1 and {MAX_SKEW_SECONDS}"),
                "leave it out to accept 120 s",
            ));
        }
    }
    Ok(())
}

/// Every `{...}` in `value` must be one of `known`.
fn placeholders(value: &Spanned<String>, field: &str, known: &[&str]) -> Result<(), Issue> {
    let text = value.get_ref();
    let mut rest = text.as_str();
    while let Some(start) = rest.find('{') {
        let tail = &rest[start..];
        let end = tail.find('}').map_or(tail.len(), |e| e + 1);
        let found = &tail[..end];
        if !known.contains(&found) {
            return Err(Issue::at(
                Kind::InvalidValue,
                value,
                field,
                format!("unknown placeholder {found}"),
                format!("use only {}", known.join(", ")),
            ));
        }
        rest = &tail[end..];
    }
    Ok(())
}

fn policy(p: &RawCertPolicy, role: RawTlsRole) -> Result<CertPolicy, Issue> {
    if p.subject_cn.get_ref().trim().is_empty() {
        return Err(Issue::at(
            Kind::InvalidValue,
            &p.subject_cn,
            "certificate.policy.subject_cn",
            "must not be empty",
            "write e.g. \"{serial}\"",
        ));
    }
    let (mut san_ip, mut san_dns) = (false, false);
    for s in p.san.get_ref() {
        match s.as_str() {
            "ip" => san_ip = true,
            "dns" => san_dns = true,
            other => {
                return Err(Issue::at(
                    Kind::InvalidValue,
                    &p.san,
                    "certificate.policy.san",
                    format!("unknown SAN kind {other:?}"),
                    "list \"ip\" and/or \"dns\"",
                ))
            }
        }
    }
    if !san_ip && !san_dns && !matches!(role, RawTlsRole::Client) {
        return Err(Issue::at(
            Kind::InvalidValue,
            &p.san,
            "certificate.policy.san",
            "a TLS server certificate needs a subject alternative name",
            "list \"ip\" and/or \"dns\"",
        ));
    }
    let validity_days = p.validity_days.as_ref().map_or(365, |v| *v.get_ref());
    if let Some(v) = &p.validity_days {
        if validity_days == 0 || validity_days > MAX_VALIDITY_DAYS {
            return Err(Issue::at(
                Kind::InvalidValue,
                v,
                "certificate.policy.validity_days",
                format!("must be between 1 and {MAX_VALIDITY_DAYS}"),
                "leave it out for one year",
            ));
        }
    }
    let backdate_minutes = p.backdate_minutes.as_ref().map_or(5, |v| *v.get_ref());
    if backdate_minutes > 24 * 60 {
        return Err(Issue::at(
            Kind::InvalidValue,
            p.backdate_minutes
                .as_ref()
                .expect("set when over the bound"),
            "certificate.policy.backdate_minutes",
            "must be at most 1440 (one day)",
            "a few minutes cover device clock skew",
        ));
    }
    let mut allowed_keys = Vec::new();
    for k in p.allowed_keys.get_ref() {
        let key = match k.as_str() {
            "ecdsa-p256" => AllowedKey::EcdsaP256,
            "ecdsa-p384" => AllowedKey::EcdsaP384,
            "ed25519" => AllowedKey::Ed25519,
            "rsa-2048" => AllowedKey::Rsa { min_bits: 2048 },
            "rsa-3072" => AllowedKey::Rsa { min_bits: 3072 },
            "rsa-4096" => AllowedKey::Rsa { min_bits: 4096 },
            other => {
                return Err(Issue::at(
                    Kind::InvalidValue,
                    &p.allowed_keys,
                    "certificate.policy.allowed_keys",
                    format!("unknown or too weak key kind {other:?}"),
                    "use ecdsa-p256, ecdsa-p384, ed25519, rsa-2048, rsa-3072 or rsa-4096",
                ))
            }
        };
        allowed_keys.push(key);
    }
    if allowed_keys.is_empty() {
        return Err(Issue::at(
            Kind::InvalidValue,
            &p.allowed_keys,
            "certificate.policy.allowed_keys",
            "must list at least one key kind",
            "e.g. [\"ecdsa-p256\"]",
        ));
    }
    let challenge_field = match p.challenge.get_ref().as_str() {
        "challenge-password" => ChallengeField::ChallengePassword,
        other => match other.strip_prefix("subject:") {
            Some(name) => {
                let field = ChallengeField::SubjectField(name.to_string());
                if field.subject_oid().is_none() {
                    return Err(Issue::at(
                        Kind::InvalidValue,
                        &p.challenge,
                        "certificate.policy.challenge",
                        format!("unknown subject field {name:?}"),
                        "use CN, serialNumber, O, OU, title, description, unstructuredName or a dotted OID",
                    ));
                }
                field
            }
            None => {
                return Err(Issue::at(
                    Kind::InvalidValue,
                    &p.challenge,
                    "certificate.policy.challenge",
                    format!("{other:?} is not a challenge location"),
                    "write \"challenge-password\" or \"subject:<field>\"",
                ))
            }
        },
    };
    Ok(CertPolicy {
        subject_cn: p.subject_cn.get_ref().clone(),
        san_dns,
        san_ip,
        tls_role: match role {
            RawTlsRole::Server => TlsRole::Server,
            RawTlsRole::Client => TlsRole::Client,
            RawTlsRole::Both => TlsRole::Both,
        },
        validity_days,
        backdate_minutes,
        allowed_keys,
        challenge_field,
    })
}

/// Builds the typed sections from a profile that passed [`check`].
pub(crate) fn build(
    raw: &RawProfile,
) -> Result<(Option<ClockSpec>, Option<CertificateSpec>), Issue> {
    let clock = raw.clock.as_ref().map(|c| ClockSpec {
        set_command: c.set_command.get_ref().clone(),
        read_command: c.read_command.get_ref().clone(),
        max_skew_seconds: c.max_skew_seconds.as_ref().map_or(120, |v| *v.get_ref()),
    });
    let Some(c) = &raw.certificate else {
        return Ok((clock, None));
    };
    let plain_http = match &c.plain_http {
        Some(p) => Some(PlainHttpSpec {
            after: p.after,
            command: p.command.get_ref().clone(),
            success: compile(&p.success, "certificate.plain_http.success", None)?,
            port: *p.port.get_ref(),
            path: p.path.get_ref().clone(),
            credential: p.credential.get_ref().clone(),
        }),
        None => None,
    };
    let spec = CertificateSpec {
        service: c.service.get_ref().clone(),
        slots: *c.slots.get_ref(),
        genkey_command: c.genkey_command.get_ref().clone(),
        genkey_success: compile(&c.genkey_success, "certificate.genkey_success", None)?,
        csr_command: c.csr_command.get_ref().clone(),
        install_command: c.install_command.get_ref().clone(),
        install_end: c.install_end.get_ref().clone(),
        install_success: compile(
            &c.install_success,
            "certificate.install_success",
            Some("fingerprint"),
        )?,
        activate_command: c.activate_command.get_ref().clone(),
        activate_success: compile(&c.activate_success, "certificate.activate_success", None)?,
        status_command: c.status_command.get_ref().clone(),
        serving_pattern: compile(
            &c.serving_pattern,
            "certificate.serving_pattern",
            Some("fingerprint"),
        )?,
        installed_pattern: compile(
            &c.installed_pattern,
            "certificate.installed_pattern",
            Some("fingerprint"),
        )?,
        policy: policy(&c.policy, c.tls_role)?,
        plain_http,
    };
    Ok((clock, Some(spec)))
}
