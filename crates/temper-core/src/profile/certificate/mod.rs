//! The `[clock]` and `[certificate]` sections: how a model's clock is set, how it makes a key and a CSR,
//! how a certificate chain is installed and switched to, and what the station's certificate policy is.
//! [`raw`] is the serde layer, [`check`] the load-time checks, this module the typed model.

mod check;
mod raw;

use regex::Regex;
use schemars::JsonSchema;
use serde::Deserialize;

use super::error::Issue;
use super::raw::RawProfile;
use super::validate::compile;
use crate::pki::{AllowedKey, CertPolicy};

pub(crate) use check::check;
pub(crate) use raw::{RawCertificate, RawClock};

/// The placeholder for a slot number in two-slot command templates.
pub const SLOT: &str = "{slot}";
/// The placeholder for the key type (in the device's words) in the genkey command.
pub const KEY: &str = "{key}";

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
    /// Makes a key; `{key}` (when present) stands for the key type, see [`CertificateSpec::genkey`].
    pub genkey_command: String,
    /// The device's name of each key kind it can be told to make (empty without `{key}`), sorted by kind name.
    pub key_names: Vec<(AllowedKey, String)>,
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
    /// Group `fingerprint`: installed; `{slot}` stands for the slot number on two-slot models (see
    /// [`CertificateSpec::installed_regex`]).
    pub installed_pattern: String,
    /// Two slots: group `slot`, the slot served.
    pub active_slot_pattern: Option<Regex>,
    /// Two slots: deletes slot `{slot}`.
    pub delete_command: Option<String>,
    /// Two slots: the delete succeeded.
    pub delete_success: Option<Regex>,
    /// The station's policy.
    pub policy: CertPolicy,
    /// The device's DNS name template (`{serial}` filled in), for a DNS SAN.
    pub dns_name: Option<String>,
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

impl CertificateSpec {
    /// A command template with `{slot}` filled in (one-slot models have no `{slot}`).
    pub fn for_slot(template: &str, slot: u8) -> String {
        template.replace(SLOT, &slot.to_string())
    }

    /// Whether the station tells the device which key type to make (`{key}` in the genkey command).
    /// Without it the device picks, and any allowed kind is accepted.
    pub fn chooses_key(&self) -> bool {
        self.genkey_command.contains(KEY)
    }

    /// The key type the device is told to make (and its CSR must carry): the one chosen with
    /// [`CertificateSpec::with_key`], else the profile's `default_key`, else its first allowed kind.
    /// `None` when the device picks.
    pub fn key_kind(&self) -> Option<AllowedKey> {
        self.policy.required_key
    }

    /// The genkey command (`{slot}` still in it) telling the device to make a `kind` key; `Err` when the
    /// device has no name for `kind`.
    pub fn genkey_for(&self, kind: AllowedKey) -> Result<String, String> {
        let (_, name) = self
            .key_names
            .iter()
            .find(|(k, _)| *k == kind)
            .ok_or_else(|| {
                format!("the profile gives no device name for the key type {kind} (certificate.key_names)")
            })?;
        Ok(self.genkey_command.replace(KEY, name))
    }

    /// The genkey command this run sends (`{slot}` still in it): for [`CertificateSpec::key_kind`], or as
    /// written when the device picks its key type.
    pub fn genkey(&self) -> Result<String, String> {
        match (self.chooses_key(), self.key_kind()) {
            (false, _) => Ok(self.genkey_command.clone()),
            (true, Some(kind)) => self.genkey_for(kind),
            (true, None) => Err("no key type was chosen for the device to make".into()),
        }
    }

    /// This spec with the device told to make `kind`, and a CSR with any other key refused. A choice only
    /// narrows the profile: refused when `kind` is not in its allowed keys, or when the device picks its key
    /// type itself (no `{key}` in genkey_command).
    pub fn with_key(&self, kind: AllowedKey) -> Result<CertificateSpec, String> {
        if !self.chooses_key() {
            return Err(format!(
                "the device picks its own key type (certificate.genkey_command has no {KEY}), so {kind} cannot be chosen"
            ));
        }
        let policy = self.policy.with_key(kind)?;
        self.genkey_for(kind)?;
        Ok(CertificateSpec {
            policy,
            ..self.clone()
        })
    }

    /// The installed-certificate pattern for `slot`. It compiled for both slots at load; should it not,
    /// the result matches nothing, so nothing counts as installed (fail closed).
    pub fn installed_regex(&self, slot: u8) -> Regex {
        Regex::new(&Self::for_slot(&self.installed_pattern, slot))
            .unwrap_or_else(|_| Regex::new(r"[^\s\S]").expect("an empty class is a valid pattern"))
    }
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
    let mut policy = check::policy(&c.policy, c.tls_role)?;
    let key_names: Vec<(AllowedKey, String)> = c
        .key_names
        .iter()
        .flatten()
        .filter_map(|(kind, name)| Some((AllowedKey::from_name(kind)?, name.get_ref().clone())))
        .collect();
    if c.genkey_command.get_ref().contains(KEY) {
        // Checked at load: default_key is allowed, and allowed_keys is not empty.
        policy.required_key = c
            .default_key
            .as_ref()
            .and_then(|d| AllowedKey::from_name(d.get_ref()))
            .or_else(|| policy.allowed_keys.first().copied());
    }
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
        installed_pattern: c.installed_pattern.get_ref().clone(),
        active_slot_pattern: match &c.active_slot_pattern {
            Some(p) => Some(compile(p, "certificate.active_slot_pattern", Some("slot"))?),
            None => None,
        },
        delete_command: c.delete_command.as_ref().map(|d| d.get_ref().clone()),
        delete_success: match &c.delete_success {
            Some(p) => Some(compile(p, "certificate.delete_success", None)?),
            None => None,
        },
        key_names,
        policy,
        dns_name: c.policy.dns_name.as_ref().map(|d| d.get_ref().clone()),
        plain_http,
    };
    Ok((clock, Some(spec)))
}
