//! Load-time checks of the `[clock]` and `[certificate]` sections.

use toml::Spanned;

use super::raw::{RawCertPolicy, RawCertificate, RawClock, RawTlsRole};
use super::{KEY, SLOT};
use crate::pki::{AllowedKey, CertPolicy, ChallengeField, TlsRole};
use crate::profile::error::{Issue, ProfileErrorKind as Kind};
use crate::profile::raw::RawProfile;
use crate::profile::validate::{command, compile};

/// Placeholders a certificate-section command may use.
const CLOCK_PLACEHOLDERS: &[&str] = &["{utc}", "{unix}"];
const CSR_PLACEHOLDERS: &[&str] = &["{cn}", "{challenge}", "{ip}", "{dns}", "{serial}", "{slot}"];
const GENKEY_PLACEHOLDERS: &[&str] = &["{key}", "{slot}"];
/// Longest device name of a key type (it goes into the genkey command line).
const MAX_KEY_NAME: usize = 32;
/// Longest clock skew a profile may tolerate.
const MAX_SKEW_SECONDS: u32 = 3600;
/// Longest certificate validity a profile may ask for (about 5 years).
const MAX_VALIDITY_DAYS: u32 = 1826;

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
    for (value, field) in [
        (&c.genkey_command, "certificate.genkey_command"),
        (&c.install_command, "certificate.install_command"),
        (&c.install_end, "certificate.install_end"),
        (&c.activate_command, "certificate.activate_command"),
        (&c.status_command, "certificate.status_command"),
    ] {
        command(value, field)?;
    }
    placeholders(
        &c.genkey_command,
        "certificate.genkey_command",
        GENKEY_PLACEHOLDERS,
    )?;
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
    let policy = policy(&c.policy, c.tls_role)?;
    keys(c, &policy)?;
    slots(c)?;
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

pub(super) fn policy(p: &RawCertPolicy, role: RawTlsRole) -> Result<CertPolicy, Issue> {
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
    match (&p.dns_name, san_dns) {
        (None, true) => {
            return Err(Issue::at(
                Kind::BadReference,
                &p.san,
                "certificate.policy.san",
                "\"dns\" needs dns_name",
                "add dns_name = \"cam-{serial}.local\" (or the name the site gives the device)",
            ))
        }
        (Some(name), _) => dns_template(name)?,
        (None, false) => {}
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
        let Some(key) = AllowedKey::from_name(k) else {
            return Err(Issue::at(
                Kind::InvalidValue,
                &p.allowed_keys,
                "certificate.policy.allowed_keys",
                format!("unknown or too weak key kind {k:?}"),
                "use ecdsa-p256, ecdsa-p384, ed25519, rsa-2048, rsa-3072 or rsa-4096",
            ));
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
        required_key: None,
        challenge_field,
    })
}

/// `{key}` in the genkey command, `key_names` and `default_key` agree with each other and with the policy:
/// with `{key}`, every allowed kind has a device name and only allowed kinds have one; without `{key}`,
/// neither `key_names` nor `default_key` (the device picks its key type).
fn keys(c: &RawCertificate, policy: &CertPolicy) -> Result<(), Issue> {
    let allowed = policy.allowed_names().join(", ");
    let uses_key = c.genkey_command.get_ref().contains(KEY);
    let Some(names) = &c.key_names else {
        if uses_key {
            return Err(Issue::at(
                Kind::BadReference,
                &c.genkey_command,
                "certificate.genkey_command",
                "has {key}, but there is no [certificate.key_names] to fill it in",
                "add [certificate.key_names] with the device's name for each allowed key kind, e.g. ecdsa-p256 = \"ec-p256\"",
            ));
        }
        if let Some(default) = &c.default_key {
            return Err(Issue::at(
                Kind::BadReference,
                default,
                "certificate.default_key",
                "is set, but genkey_command has no {key}: the device picks its own key type",
                "write where the key type goes in genkey_command, e.g. --type {key}, or remove default_key",
            ));
        }
        return Ok(());
    };
    if !uses_key {
        return Err(Issue::at(
            Kind::BadReference,
            &c.genkey_command,
            "certificate.genkey_command",
            "has no {key}, but [certificate.key_names] names the device's key types",
            "write where the key type goes, e.g. --type {key}, or remove [certificate.key_names]",
        ));
    }
    let mut seen: Vec<&str> = Vec::new();
    for (kind_name, device_name) in names {
        let field = format!("certificate.key_names.{kind_name}");
        let Some(kind) = AllowedKey::from_name(kind_name) else {
            return Err(Issue::at(
                Kind::InvalidValue,
                device_name,
                field,
                format!("unknown key kind {kind_name:?}"),
                "use ecdsa-p256, ecdsa-p384, ed25519, rsa-2048, rsa-3072 or rsa-4096",
            ));
        };
        if !policy.allowed_keys.contains(&kind) {
            return Err(Issue::at(
                Kind::BadReference,
                device_name,
                field,
                format!("{kind} is not in certificate.policy.allowed_keys ({allowed})"),
                format!("remove it, or add \"{kind}\" to allowed_keys"),
            ));
        }
        let value = device_name.get_ref().as_str();
        let plain = |b: u8| b.is_ascii_alphanumeric() || b"-_.:".contains(&b);
        if value.is_empty() || value.len() > MAX_KEY_NAME || !value.bytes().all(plain) {
            return Err(Issue::at(
                Kind::InvalidValue,
                device_name,
                field,
                format!("{value:?} is not a plain word of at most {MAX_KEY_NAME} characters"),
                "use letters, digits, '-', '_', '.' or ':' (it goes into the genkey command line)",
            ));
        }
        if seen.contains(&value) {
            return Err(Issue::at(
                Kind::Duplicate,
                device_name,
                field,
                format!("another key kind already has the device name {value:?}"),
                "give each key kind the device's own name for it",
            ));
        }
        seen.push(value);
    }
    if let Some(kind) = policy
        .allowed_keys
        .iter()
        .find(|k| !names.contains_key(&k.name()))
    {
        return Err(Issue::at(
            Kind::BadReference,
            &c.policy.allowed_keys,
            "certificate.policy.allowed_keys",
            format!("{kind} is allowed, but [certificate.key_names] gives no device name for it"),
            format!(
                "add {kind} = \"<the device's name for it>\" to [certificate.key_names], or remove it from allowed_keys"
            ),
        ));
    }
    if let Some(default) = &c.default_key {
        let ok = AllowedKey::from_name(default.get_ref())
            .is_some_and(|k| policy.allowed_keys.contains(&k));
        if !ok {
            return Err(Issue::at(
                Kind::BadReference,
                default,
                "certificate.default_key",
                format!(
                    "{:?} is not in certificate.policy.allowed_keys ({allowed})",
                    default.get_ref()
                ),
                "name one of the allowed key kinds, or leave it out for the first of them",
            ));
        }
    }
    Ok(())
}

/// One slot: no `{slot}` anywhere and no slot-only keys. Two slots: `{slot}` in every per-slot command and
/// in the installed pattern, and the slot-only keys present.
fn slots(c: &RawCertificate) -> Result<(), Issue> {
    let per_slot = [
        (&c.genkey_command, "certificate.genkey_command"),
        (&c.csr_command, "certificate.csr_command"),
        (&c.install_command, "certificate.install_command"),
        (&c.activate_command, "certificate.activate_command"),
        (&c.installed_pattern, "certificate.installed_pattern"),
    ];
    match *c.slots.get_ref() {
        1 => {
            for (value, field) in per_slot {
                if value.get_ref().contains(SLOT) {
                    return Err(Issue::at(
                        Kind::InvalidValue,
                        value,
                        field,
                        "has {slot}, but the model has one slot",
                        "remove {slot}, or declare slots = 2",
                    ));
                }
            }
            let extra = [
                (&c.active_slot_pattern, "certificate.active_slot_pattern"),
                (&c.delete_command, "certificate.delete_command"),
                (&c.delete_success, "certificate.delete_success"),
            ];
            if let Some((Some(value), field)) = extra.into_iter().find(|(v, _)| v.is_some()) {
                return Err(Issue::at(
                    Kind::BadReference,
                    value,
                    field,
                    "is for two-slot models, but slots = 1",
                    "remove it, or declare slots = 2",
                ));
            }
            compile(
                &c.installed_pattern,
                "certificate.installed_pattern",
                Some("fingerprint"),
            )?;
        }
        2 => {
            for (value, field) in per_slot {
                if !value.get_ref().contains(SLOT) {
                    return Err(Issue::at(
                        Kind::InvalidValue,
                        value,
                        field,
                        "has no {slot}, but the model has two slots",
                        "write where the slot number goes, e.g. --slot {slot}",
                    ));
                }
            }
            for n in ["1", "2"] {
                let filled = Spanned::new(
                    c.installed_pattern.span(),
                    c.installed_pattern.get_ref().replace(SLOT, n),
                );
                compile(
                    &filled,
                    "certificate.installed_pattern",
                    Some("fingerprint"),
                )?;
            }
            let missing = |field: &str, what: &str| {
                Issue::at(
                    Kind::MissingField,
                    &c.slots,
                    format!("certificate.{field}"),
                    format!("a two-slot model needs {field}"),
                    format!("add {field} ({what})"),
                )
            };
            let active = c.active_slot_pattern.as_ref().ok_or_else(|| {
                missing("active_slot_pattern", "a regex with a named group `slot`")
            })?;
            compile(active, "certificate.active_slot_pattern", Some("slot"))?;
            let delete = c
                .delete_command
                .as_ref()
                .ok_or_else(|| missing("delete_command", "the command that clears slot {slot}"))?;
            command(delete, "certificate.delete_command")?;
            if !delete.get_ref().contains(SLOT) {
                return Err(Issue::at(
                    Kind::InvalidValue,
                    delete,
                    "certificate.delete_command",
                    "has no {slot}",
                    "write where the slot number goes, e.g. --slot {slot}",
                ));
            }
            let success = c
                .delete_success
                .as_ref()
                .ok_or_else(|| missing("delete_success", "a regex its output matches"))?;
            compile(success, "certificate.delete_success", None)?;
        }
        _ => {
            return Err(Issue::at(
                Kind::InvalidValue,
                &c.slots,
                "certificate.slots",
                "must be 1 or 2",
                "give the number of key/certificate slots the device has",
            ))
        }
    }
    Ok(())
}

/// A DNS name template: letters, digits, '-', '.', and `{serial}`; filled with a hex serial it is a valid
/// host name.
fn dns_template(name: &Spanned<String>) -> Result<(), Issue> {
    let filled = name.get_ref().replace("{serial}", "0123abcd");
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if filled.len() > 253 || !filled.split('.').all(label_ok) {
        return Err(Issue::at(
            Kind::InvalidValue,
            name,
            "certificate.policy.dns_name",
            format!("{:?} is not a host name", name.get_ref()),
            "use letters, digits, '-' and '.', and {serial}, e.g. \"cam-{serial}.local\"",
        ));
    }
    Ok(())
}
