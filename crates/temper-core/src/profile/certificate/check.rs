//! Load-time checks of the `[clock]` and `[certificate]` sections.

use toml::Spanned;

use super::raw::{ClockMethod, RawCertPolicy, RawCertificate, RawClock, RawTlsRole};
use super::{CHUNK, KEY, SLOT};
use crate::pki::{AllowedKey, CertPolicy, ChallengeField, TlsRole};
use crate::profile::error::{Issue, ProfileErrorKind as Kind};
use crate::profile::model::Driver;
use crate::profile::raw::RawProfile;
use crate::profile::validate::setting_name;
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
    let driver = *raw.profile.driver.get_ref();
    if let Some(clock) = &raw.clock {
        check_clock(clock, driver)?;
    }
    let Some(c) = &raw.certificate else {
        return Ok(());
    };
    if raw.clock.is_none() {
        return Err(Issue::at(
            Kind::BadReference,
            &c.slots,
            "certificate",
            "a [certificate] section needs a [clock] section",
            "add [clock] (set_command and read_command, or method = \"smp-datetime\"): devices that boot in 1970 refuse valid certificates",
        ));
    }
    check_service_reference(raw, c)?;
    for (value, field) in [
        (&c.genkey_command, "certificate.genkey_command"),
        (&c.install_command, "certificate.install_command"),
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
    compile(&c.install_success, "certificate.install_success", None)?;
    install_method(c)?;
    activation(c)?;
    let client = matches!(c.tls_role, RawTlsRole::Client);
    match (&c.serving_pattern, client) {
        (Some(p), _) => compile(p, "certificate.serving_pattern", Some("fingerprint")).map(drop)?,
        (None, false) => return Err(Issue::at(
            Kind::MissingField,
            &c.status_command,
            "certificate.serving_pattern",
            "a TLS server needs serving_pattern",
            "add serving_pattern: a regex over the status output with a named group `fingerprint`",
        )),
        (None, true) => {}
    }
    client_check(c, driver)?;
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

/// A server names the [[services]] entry it serves on; a client needs none.
fn check_service_reference(raw: &RawProfile, c: &RawCertificate) -> Result<(), Issue> {
    let Some(service) = &c.service else {
        if matches!(c.tls_role, RawTlsRole::Client) {
            return Ok(());
        }
        return Err(Issue::at(
            Kind::MissingField,
            &c.slots,
            "certificate.service",
            "a TLS server certificate needs the service it is served on",
            "add service = \"<id of the [[services]] entry that serves TLS>\"",
        ));
    };
    if !raw
        .services
        .iter()
        .any(|s| s.get_ref().id.get_ref() == service.get_ref())
    {
        return Err(Issue::at(
            Kind::BadReference,
            service,
            "certificate.service",
            format!("no service with id {:?}", service.get_ref()),
            "name the [[services]] entry that serves TLS",
        ));
    }
    Ok(())
}

/// Exactly one way of sending the certificate: typed PEM lines (`install_end`) or DER chunks
/// (`install_chunk_command` with `{chunk}`, its size a multiple of 4, and an optional clear command).
fn install_method(c: &RawCertificate) -> Result<(), Issue> {
    match (&c.install_end, &c.install_chunk_command) {
        (Some(end), None) => {
            command(end, "certificate.install_end")?;
            let chunk_only = [
                c.install_chunk_size.as_ref().map(|v| v.span()),
                c.install_clear_command.as_ref().map(|v| v.span()),
            ];
            if let Some(span) = chunk_only.into_iter().flatten().next() {
                return Err(Issue::at(
                    Kind::BadReference,
                    &Spanned::new(span, ()),
                    "certificate.install_chunk_command",
                    "install_chunk_size and install_clear_command go with install_chunk_command",
                    "remove them, or send the certificate in chunks instead of install_end",
                ));
            }
            Ok(())
        }
        (None, Some(chunk)) => {
            command(chunk, "certificate.install_chunk_command")?;
            placeholders(chunk, "certificate.install_chunk_command", &[CHUNK])?;
            if !chunk.get_ref().contains(CHUNK) {
                return Err(Issue::at(
                    Kind::InvalidValue,
                    chunk,
                    "certificate.install_chunk_command",
                    "has no {chunk}",
                    "write where each piece of base64 goes, e.g. \"cred buf {chunk}\"",
                ));
            }
            if let Some(size) = &c.install_chunk_size {
                let n = *size.get_ref();
                if n == 0 || n % 4 != 0 || n > 1024 {
                    return Err(Issue::at(
                        Kind::InvalidValue,
                        size,
                        "certificate.install_chunk_size",
                        format!("{n} is not a multiple of 4 between 4 and 1024"),
                        "base64 pieces decode on their own when their length is a multiple of 4; leave it out for 96",
                    ));
                }
            }
            if let Some(clear) = &c.install_clear_command {
                command(clear, "certificate.install_clear_command")?;
            }
            Ok(())
        }
        (Some(end), Some(_)) => Err(Issue::at(
            Kind::InvalidValue,
            end,
            "certificate.install_end",
            "give install_end (typed PEM lines) or install_chunk_command (DER chunks), not both",
            "remove one of them",
        )),
        (None, None) => Err(Issue::at(
            Kind::MissingField,
            &c.install_command,
            "certificate.install_end",
            "the certificate has no way to reach the device",
            "add install_end (the line ending typed PEM input) or install_chunk_command (DER chunks)",
        )),
    }
}

/// `activate_command` and `activate_success` come together.
fn activation(c: &RawCertificate) -> Result<(), Issue> {
    match (&c.activate_command, &c.activate_success) {
        (Some(command_), Some(success)) => {
            command(command_, "certificate.activate_command")?;
            compile(success, "certificate.activate_success", None).map(drop)
        }
        (None, None) => Ok(()),
        (Some(v), None) | (None, Some(v)) => Err(Issue::at(
            Kind::MissingField,
            v,
            "certificate.activate_command",
            "activate_command and activate_success go together",
            "give both, or neither when the device uses a new certificate by itself",
        )),
    }
}

/// `[certificate.client_check]`: required for tls_role "client", only with driver "smp" (the endpoint is an
/// SMP setting), its commands and patterns valid.
fn client_check(c: &RawCertificate, driver: Driver) -> Result<(), Issue> {
    let client = matches!(c.tls_role, RawTlsRole::Client);
    let Some(k) = &c.client_check else {
        if client {
            return Err(Issue::at(
                Kind::MissingField,
                &c.status_command,
                "certificate.client_check",
                "a TLS client needs [certificate.client_check]: Temper proves a client certificate only by having the device present it",
                "add [certificate.client_check] with trust_anchor_command, trust_anchor_success, trust_anchor_pattern, endpoint_setting, connect_command, connect_success and application",
            ));
        }
        return Ok(());
    };
    if matches!(c.tls_role, RawTlsRole::Server) {
        return Err(Issue::at(
            Kind::BadReference,
            &k.connect_command,
            "certificate.client_check",
            "is for TLS clients, but tls_role = \"server\"",
            "remove it, or set tls_role = \"client\" or \"both\"",
        ));
    }
    if driver != Driver::Smp {
        return Err(Issue::at(
            Kind::BadReference,
            &k.endpoint_setting,
            "certificate.client_check.endpoint_setting",
            "the endpoint is an SMP setting: client_check needs driver = \"smp\"",
            "use driver = \"smp\"",
        ));
    }
    command(
        &k.trust_anchor_command,
        "certificate.client_check.trust_anchor_command",
    )?;
    compile(
        &k.trust_anchor_success,
        "certificate.client_check.trust_anchor_success",
        None,
    )?;
    compile(
        &k.trust_anchor_pattern,
        "certificate.client_check.trust_anchor_pattern",
        Some("fingerprint"),
    )?;
    setting_name(
        &k.endpoint_setting,
        "certificate.client_check.endpoint_setting",
    )?;
    command(
        &k.connect_command,
        "certificate.client_check.connect_command",
    )?;
    compile(
        &k.connect_success,
        "certificate.client_check.connect_success",
        None,
    )?;
    Ok(())
}

fn check_clock(clock: &RawClock, driver: Driver) -> Result<(), Issue> {
    let method = clock.method.as_ref();
    match method.map_or(ClockMethod::Command, |m| *m.get_ref()) {
        ClockMethod::Command => clock_commands(clock)?,
        ClockMethod::SmpDatetime => {
            let commands = [&clock.set_command, &clock.read_command];
            if let Some(value) = commands.into_iter().flatten().next() {
                return Err(Issue::at(
                    Kind::BadReference,
                    value,
                    "clock.set_command",
                    "method = \"smp-datetime\" sets and reads the clock over SMP, not with commands",
                    "remove set_command and read_command, or use method = \"command\"",
                ));
            }
            if let (Some(method), false) = (method, driver == Driver::Smp) {
                return Err(Issue::at(
                    Kind::BadReference,
                    method,
                    "clock.method",
                    "method = \"smp-datetime\" needs driver = \"smp\"",
                    "use set_command and read_command",
                ));
            }
        }
    }
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

/// Method "command": both commands, the set command with `{utc}` or `{unix}`.
fn clock_commands(clock: &RawClock) -> Result<(), Issue> {
    let missing = |name: &str| {
        Issue::at(
            Kind::MissingField,
            &clock
                .max_skew_seconds
                .as_ref()
                .map_or(Spanned::new(0..0, ()), |v| Spanned::new(v.span(), ())),
            format!("clock.{name}"),
            format!("[clock] needs {name} (or method = \"smp-datetime\" on an SMP device)"),
            format!("add {name}"),
        )
    };
    let set = clock
        .set_command
        .as_ref()
        .ok_or_else(|| missing("set_command"))?;
    let read = clock
        .read_command
        .as_ref()
        .ok_or_else(|| missing("read_command"))?;
    command(set, "clock.set_command")?;
    placeholders(set, "clock.set_command", CLOCK_PLACEHOLDERS)?;
    if !CLOCK_PLACEHOLDERS.iter().any(|p| set.get_ref().contains(p)) {
        return Err(Issue::at(
            Kind::InvalidValue,
            set,
            "clock.set_command",
            "has neither {utc} nor {unix}",
            "write where the time goes, e.g. date -u -s '{utc}'",
        ));
    }
    command(read, "clock.read_command")
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
        Some((&c.genkey_command, "certificate.genkey_command")),
        Some((&c.csr_command, "certificate.csr_command")),
        Some((&c.install_command, "certificate.install_command")),
        c.activate_command
            .as_ref()
            .map(|a| (a, "certificate.activate_command")),
        Some((&c.installed_pattern, "certificate.installed_pattern")),
    ];
    let per_slot = per_slot.into_iter().flatten();
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
