//! The checks run on every profile at load. Each is a small named function called from [`validate`]; the first
//! failure is returned, pointing at the offending value.

use std::collections::HashSet;

use regex::Regex;
use toml::Spanned;

mod stores;

pub(crate) use stores::setting_name;
use stores::{
    check_accounts, check_credential, check_service, ensure_credential_services_exist,
    reject_duplicate_ids, reject_duplicate_ports,
};

use super::error::{Issue, ProfileErrorKind as Kind};
use super::model::Driver;
use super::policy::check_password_policy;
use super::raw::{RawConsole, RawProfile, RawSmp};

/// The only version of the file format.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// Longest timeout a profile may set: longer values are almost always seconds written as milliseconds.
const MAX_TIMEOUT_MS: u64 = 600_000;

/// Runs every check on a parsed profile.
pub(crate) fn validate(raw: &RawProfile) -> Result<(), Issue> {
    check_header(raw)?;
    check_recognition(raw)?;
    check_driver_section(raw)?;
    if let Some(ble) = &raw.ble {
        super::ble::check(ble)?;
    }
    check_address(raw)?;
    check_password_policy(&raw.password_policy)?;
    reject_duplicate_ids(raw)?;
    let driver = *raw.profile.driver.get_ref();
    for (i, service) in raw.services.iter().enumerate() {
        check_service(service.get_ref(), &format!("services[{i}]"), driver)?;
    }
    reject_duplicate_ports(raw)?;
    for (i, credential) in raw.credentials.iter().enumerate() {
        check_credential(credential.get_ref(), &format!("credentials[{i}]"), driver)?;
    }
    ensure_credential_services_exist(raw)?;
    if let Some(accounts) = &raw.accounts {
        check_accounts(accounts)?;
    }
    check_extra_udp_ports(raw)?;
    check_trial_concurrency(raw)?;
    super::certificate::check(raw)
}

/// Most default-credential trials a profile may run at once against one service.
pub(crate) const MAX_TRIAL_CONCURRENCY: u16 = 64;

fn check_trial_concurrency(raw: &RawProfile) -> Result<(), Issue> {
    match &raw.checks.trial_concurrency {
        Some(n) if !(1..=MAX_TRIAL_CONCURRENCY).contains(n.get_ref()) => Err(Issue::at(
            Kind::InvalidValue,
            n,
            "checks.trial_concurrency",
            format!("must be between 1 and {MAX_TRIAL_CONCURRENCY}"),
            "most devices take 8 logins at once; leave it out to use 8",
        )),
        _ => Ok(()),
    }
}

/// Compiles a pattern and, if asked, checks it has the named group the engine reads.
pub(crate) fn compile(
    pattern: &Spanned<String>,
    field: &str,
    group: Option<&str>,
) -> Result<Regex, Issue> {
    text(pattern, field)?;
    let regex = Regex::new(pattern.get_ref()).map_err(|e| {
        // The parser's message ends with a line `error: <what>`, after a drawing of the pattern.
        let text = e.to_string();
        let what = text.lines().last().unwrap_or_default().trim_start_matches("error: ");
        let message = format!("not a valid regex: {what}");
        let help = "fix the pattern (syntax: https://docs.rs/regex/latest/regex/#syntax); write it in '...' so \\ is literal";
        Issue::at(Kind::BadPattern, pattern, field, message, help)
    })?;
    if let Some(group) = group {
        if !regex.capture_names().flatten().any(|name| name == group) {
            let message = format!("the pattern has no named group `{group}`");
            let help = format!("wrap the part to extract in (?P<{group}>...)");
            return Err(Issue::at(Kind::BadPattern, pattern, field, message, help));
        }
    }
    Ok(regex)
}

/// A required free-text value: not empty.
pub(super) fn text(value: &Spanned<String>, field: &str) -> Result<(), Issue> {
    if value.get_ref().trim().is_empty() {
        return Err(Issue::at(
            Kind::InvalidValue,
            value,
            field,
            "must not be empty",
            "write a value",
        ));
    }
    Ok(())
}

/// A command typed on the console: not empty, one line (the driver adds the line ending).
pub(super) fn command(value: &Spanned<String>, field: &str) -> Result<(), Issue> {
    text(value, field)?;
    if value.get_ref().chars().any(char::is_control) {
        let message = "contains a control character (newline, tab, escape...)";
        let help = "write a single command line; the console's line_ending is added by Temper";
        return Err(Issue::at(Kind::InvalidValue, value, field, message, help));
    }
    Ok(())
}

/// Ids appear in events, inventory records and URLs.
pub(super) fn id(value: &Spanned<String>, field: &str) -> Result<(), Issue> {
    let s = value.get_ref();
    let valid = s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        let message = format!("{s:?} is not a valid id");
        let help = "use lowercase letters, digits and '-', starting with a letter or digit";
        return Err(Issue::at(Kind::InvalidValue, value, field, message, help));
    }
    Ok(())
}

fn check_header(raw: &RawProfile) -> Result<(), Issue> {
    let header = &raw.profile;
    id(&header.id, "profile.id")?;
    text(&header.name, "profile.name")?;
    text(&header.vendor, "profile.vendor")?;
    let version = *header.schema_version.get_ref();
    if version != SCHEMA_VERSION {
        let message = format!("schema_version {version} is not supported");
        let help = format!("this Temper reads schema_version = {SCHEMA_VERSION}");
        return Err(Issue::at(
            Kind::InvalidValue,
            &header.schema_version,
            "profile.schema_version",
            message,
            help,
        ));
    }
    Ok(())
}

fn check_recognition(raw: &RawProfile) -> Result<(), Issue> {
    let r = &raw.recognition;
    for (i, usb) in r.usb_ids.iter().enumerate() {
        parse_usb_id(usb, &format!("recognition.usb_ids[{i}]"))?;
    }
    if let Some(banner) = &r.banner {
        compile(banner, "recognition.banner", None)?;
    }
    command(&r.identity_command, "recognition.identity_command")?;
    compile(&r.model_pattern, "recognition.model_pattern", Some("model"))?;
    compile(
        &r.serial_pattern,
        "recognition.serial_pattern",
        Some("serial"),
    )?;
    command(&r.firmware_command, "recognition.firmware_command")?;
    compile(
        &r.firmware_pattern,
        "recognition.firmware_pattern",
        Some("firmware"),
    )?;
    Ok(())
}

/// Parses "vvvv:pppp" (four hex digits each) into (vendor, product).
pub(crate) fn parse_usb_id(value: &Spanned<String>, field: &str) -> Result<(u16, u16), Issue> {
    let parsed = value
        .get_ref()
        .split_once(':')
        .and_then(|(vendor, product)| {
            let hex4 = |s: &str| {
                (s.len() == 4)
                    .then(|| u16::from_str_radix(s, 16).ok())
                    .flatten()
            };
            Some((hex4(vendor)?, hex4(product)?))
        });
    parsed.ok_or_else(|| {
        let message = format!("{:?} is not a USB id", value.get_ref());
        let help = "write vendor:product as four hex digits each, e.g. \"10c4:ea60\"";
        Issue::at(Kind::InvalidValue, value, field, message, help)
    })
}

/// The driver's own section is there (`[console]` or `[smp]`), and the other one is not.
fn check_driver_section(raw: &RawProfile) -> Result<(), Issue> {
    let driver = &raw.profile.driver;
    let section = |name: &str, other: &str| {
        Issue::at(
            Kind::MissingField,
            driver,
            name,
            format!("driver = {other:?} needs a [{name}] section"),
            format!("add [{name}], or set the driver the device speaks"),
        )
    };
    match (driver.get_ref(), &raw.console, &raw.smp) {
        (Driver::Console, Some(console), None) => check_console(console),
        (Driver::Smp, None, Some(smp)) => check_smp(smp),
        (Driver::Console, None, _) => Err(section("console", "console")),
        (Driver::Smp, _, None) => Err(section("smp", "smp")),
        (Driver::Console, Some(_), Some(_)) => Err(wrong_section(driver, "smp")),
        (Driver::Smp, Some(_), Some(_)) => Err(wrong_section(driver, "console")),
    }
}

/// `[section]` belongs to the other driver.
fn wrong_section(driver: &Spanned<Driver>, section: &str) -> Issue {
    Issue::at(
        Kind::BadReference,
        driver,
        section,
        format!("[{section}] is for driver = {section:?}"),
        format!("remove [{section}], or set driver = {section:?}"),
    )
}

fn check_smp(s: &RawSmp) -> Result<(), Issue> {
    baud(&s.baud, "smp.baud")?;
    for (value, field) in [
        (&s.timeout_ms, "smp.timeout_ms"),
        (&s.command_timeout_ms, "smp.command_timeout_ms"),
    ] {
        if let Some(value) = value {
            timeout(value, field)?;
        }
    }
    Ok(())
}

fn baud(value: &Spanned<u32>, field: &str) -> Result<(), Issue> {
    if *value.get_ref() == 0 {
        return Err(Issue::at(
            Kind::InvalidValue,
            value,
            field,
            "must be > 0",
            "set the serial speed, e.g. 115200",
        ));
    }
    Ok(())
}

fn timeout(value: &Spanned<u64>, field: &str) -> Result<(), Issue> {
    let ms = *value.get_ref();
    if ms == 0 || ms > MAX_TIMEOUT_MS {
        let message = format!("{ms} ms is out of range");
        let help = format!("give milliseconds between 1 and {MAX_TIMEOUT_MS}");
        return Err(Issue::at(Kind::InvalidValue, value, field, message, help));
    }
    Ok(())
}

fn check_console(c: &RawConsole) -> Result<(), Issue> {
    baud(&c.baud, "console.baud")?;
    let ending = c.line_ending.get_ref();
    if ending.is_empty() || !ending.chars().all(|ch| ch == '\r' || ch == '\n') {
        let help = "write \"\\r\", \"\\n\" or \"\\r\\n\" (double quotes, so the escape is read)";
        return Err(Issue::at(
            Kind::InvalidValue,
            &c.line_ending,
            "console.line_ending",
            "must be CR, LF or CRLF",
            help,
        ));
    }
    compile(&c.login_prompt, "console.login_prompt", None)?;
    compile(&c.password_prompt, "console.password_prompt", None)?;
    compile(&c.shell_prompt, "console.shell_prompt", None)?;
    compile(&c.login_failed, "console.login_failed", None)?;
    compile(&c.kernel_line, "console.kernel_line", None)?;
    command(&c.logout_command, "console.logout_command")?;
    for (value, field) in [
        (&c.login_timeout_ms, "console.login_timeout_ms"),
        (&c.command_timeout_ms, "console.command_timeout_ms"),
    ] {
        timeout(value, field)?;
    }
    Ok(())
}

fn check_address(raw: &RawProfile) -> Result<(), Issue> {
    command(&raw.address.command, "address.command")?;
    compile(&raw.address.pattern, "address.pattern", Some("ip"))?;
    Ok(())
}

fn check_extra_udp_ports(raw: &RawProfile) -> Result<(), Issue> {
    let mut seen = HashSet::new();
    for (i, port) in raw.checks.extra_udp_ports.iter().enumerate() {
        let field = format!("checks.extra_udp_ports[{i}]");
        if *port.get_ref() == 0 {
            return Err(Issue::at(
                Kind::InvalidValue,
                port,
                field,
                "must be > 0",
                "give a port number",
            ));
        }
        if !seen.insert(*port.get_ref()) {
            return Err(Issue::at(
                Kind::Duplicate,
                port,
                field,
                "listed twice",
                "list each port once",
            ));
        }
    }
    Ok(())
}
