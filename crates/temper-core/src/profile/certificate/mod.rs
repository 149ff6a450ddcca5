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
pub use raw::{ClientApplication, ClockMethod};
pub(crate) use raw::{RawCertificate, RawClock};

/// The placeholder for a slot number in two-slot command templates.
pub const SLOT: &str = "{slot}";
/// The placeholder for the key type (in the device's words) in the genkey command.
pub const KEY: &str = "{key}";
/// Base64 characters per piece when `install_chunk_size` is not given (fits Zephyr's default 256-byte shell
/// command buffer with room for the command).
pub const DEFAULT_CHUNK_SIZE: usize = 96;

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
    /// Commands, or the SMP datetime command.
    pub setting: ClockSetting,
    /// Largest accepted skew after setting.
    pub max_skew_seconds: u32,
}

/// The way a device's clock is set and read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClockSetting {
    /// Shell commands.
    Commands {
        /// Template with `{utc}` or `{unix}`.
        set_command: String,
        /// Prints Unix seconds.
        read_command: String,
    },
    /// The SMP OS group's datetime command (driver "smp").
    SmpDatetime,
}

impl ClockSpec {
    /// The set command for the Unix time `unix`; `None` when the clock is set over SMP.
    pub fn set_command_for(&self, unix: u64) -> Option<String> {
        let ClockSetting::Commands { set_command, .. } = &self.setting else {
            return None;
        };
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
        Some(
            set_command
                .replace("{utc}", &utc)
                .replace("{unix}", &unix.to_string()),
        )
    }
}

/// How a certificate (and a trust anchor) is sent to the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertInstall {
    /// The PEM lines are typed after the install command, then a line `end` (a console heredoc).
    Lines {
        /// The line ending the PEM input.
        end: String,
    },
    /// The DER bytes, base64, in pieces of `chunk_size` characters through `chunk_command` (`{chunk}`),
    /// after `clear_command`; the install command then stores what was staged.
    Chunks {
        /// Empties the staging buffer first.
        clear_command: Option<String>,
        /// Template with `{chunk}`.
        chunk_command: String,
        /// Base64 characters per piece (a multiple of 4).
        chunk_size: usize,
    },
}

/// The placeholder for a piece of base64 in [`CertInstall::Chunks`].
pub const CHUNK: &str = "{chunk}";

/// How a TLS client's certificate is proven from outside (typed [`raw::RawClientCheck`]).
#[derive(Debug, Clone)]
pub struct ClientCheckSpec {
    /// Installs the station CA as a trust anchor.
    pub trust_anchor_command: String,
    /// Its output on success.
    pub trust_anchor_success: Regex,
    /// Group `fingerprint` over the status output: the trust anchor installed.
    pub trust_anchor_pattern: Regex,
    /// The SMP setting with the device's endpoint ("host:port").
    pub endpoint_setting: String,
    /// Makes the device connect.
    pub connect_command: String,
    /// The connection succeeded.
    pub connect_success: Regex,
    /// What the device speaks inside TLS.
    pub application: ClientApplication,
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
    /// Service id the certificate is served on (`None` for a TLS client).
    pub service: Option<String>,
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
    /// Installs the certificate sent as [`CertificateSpec::install`] says.
    pub install_command: String,
    /// How the certificate is sent.
    pub install: CertInstall,
    /// Install succeeded; when it has a group `fingerprint`, that is the fingerprint read back.
    pub install_success: Regex,
    /// Switches the service to the installed certificate (`None`: the device uses it by itself).
    pub activate_command: Option<String>,
    /// Activation succeeded (with `activate_command`).
    pub activate_success: Option<Regex>,
    /// Reports served and installed certificates.
    pub status_command: String,
    /// Group `fingerprint`: served (`None` for a TLS client: it presents what is installed).
    pub serving_pattern: Option<Regex>,
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
    /// TLS clients: how the certificate is proven from outside.
    pub client_check: Option<ClientCheckSpec>,
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

    /// Whether the install output itself says which certificate was installed (a `fingerprint` group).
    pub fn install_reports_fingerprint(&self) -> bool {
        self.install_success
            .capture_names()
            .flatten()
            .any(|n| n == "fingerprint")
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
    // Checked at load: method "command" (the default) has both commands.
    let clock = raw.clock.as_ref().map(|c| ClockSpec {
        setting: match (
            c.method.as_ref().map(|m| *m.get_ref()),
            &c.set_command,
            &c.read_command,
        ) {
            (Some(ClockMethod::SmpDatetime), _, _) | (_, None, _) | (_, _, None) => {
                ClockSetting::SmpDatetime
            }
            (_, Some(set), Some(read)) => ClockSetting::Commands {
                set_command: set.get_ref().clone(),
                read_command: read.get_ref().clone(),
            },
        },
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
    let install = match (&c.install_end, &c.install_chunk_command) {
        (Some(end), _) => CertInstall::Lines {
            end: end.get_ref().clone(),
        },
        (None, chunk) => CertInstall::Chunks {
            clear_command: c
                .install_clear_command
                .as_ref()
                .map(|v| v.get_ref().clone()),
            chunk_command: chunk
                .as_ref()
                .map(|v| v.get_ref().clone())
                .unwrap_or_default(),
            chunk_size: c
                .install_chunk_size
                .as_ref()
                .map_or(DEFAULT_CHUNK_SIZE, |v| *v.get_ref()),
        },
    };
    let optional = |p: &Option<toml::Spanned<String>>, field: &str, group: Option<&str>| {
        p.as_ref().map(|p| compile(p, field, group)).transpose()
    };
    let client_check = match &c.client_check {
        Some(k) => Some(ClientCheckSpec {
            trust_anchor_command: k.trust_anchor_command.get_ref().clone(),
            trust_anchor_success: compile(
                &k.trust_anchor_success,
                "certificate.client_check.trust_anchor_success",
                None,
            )?,
            trust_anchor_pattern: compile(
                &k.trust_anchor_pattern,
                "certificate.client_check.trust_anchor_pattern",
                Some("fingerprint"),
            )?,
            endpoint_setting: k.endpoint_setting.get_ref().clone(),
            connect_command: k.connect_command.get_ref().clone(),
            connect_success: compile(
                &k.connect_success,
                "certificate.client_check.connect_success",
                None,
            )?,
            application: k.application,
        }),
        None => None,
    };
    let spec = CertificateSpec {
        service: c.service.as_ref().map(|s| s.get_ref().clone()),
        slots: *c.slots.get_ref(),
        genkey_command: c.genkey_command.get_ref().clone(),
        genkey_success: compile(&c.genkey_success, "certificate.genkey_success", None)?,
        csr_command: c.csr_command.get_ref().clone(),
        install_command: c.install_command.get_ref().clone(),
        install,
        install_success: compile(&c.install_success, "certificate.install_success", None)?,
        activate_command: c.activate_command.as_ref().map(|v| v.get_ref().clone()),
        activate_success: optional(&c.activate_success, "certificate.activate_success", None)?,
        status_command: c.status_command.get_ref().clone(),
        serving_pattern: optional(
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
        client_check,
    };
    Ok((clock, Some(spec)))
}
