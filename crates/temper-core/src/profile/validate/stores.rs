//! Checks on the lists that reference each other: credential stores, services and accounts.

use std::collections::HashSet;

use toml::Spanned;

use super::{command, compile, id, text};
use crate::profile::error::{Issue, ProfileErrorKind as Kind};
use crate::profile::model::{CredentialKind, Driver, NEW_PASSWORD, USER};
use crate::profile::raw::{
    RawAccounts, RawConfirm, RawCredential, RawProfile, RawService, RawSettingValue,
};

pub(super) fn reject_duplicate_ids(raw: &RawProfile) -> Result<(), Issue> {
    let credential_ids = raw.credentials.iter().map(|c| &c.get_ref().id);
    first_duplicate(credential_ids, "credentials", "credential store")?;
    first_duplicate(
        raw.services.iter().map(|s| &s.get_ref().id),
        "services",
        "service",
    )
}

fn first_duplicate<'a>(
    ids: impl Iterator<Item = &'a Spanned<String>>,
    list: &str,
    what: &str,
) -> Result<(), Issue> {
    let mut seen = HashSet::new();
    for (i, value) in ids.enumerate() {
        if !seen.insert(value.get_ref()) {
            let message = format!("the {what} id {:?} is used twice", value.get_ref());
            return Err(Issue::at(
                Kind::Duplicate,
                value,
                format!("{list}[{i}].id"),
                message,
                "give each entry its own id",
            ));
        }
    }
    Ok(())
}

pub(super) fn reject_duplicate_ports(raw: &RawProfile) -> Result<(), Issue> {
    let mut seen = HashSet::new();
    for (i, service) in raw.services.iter().enumerate() {
        let s = service.get_ref();
        if !seen.insert((s.protocol, *s.port.get_ref())) {
            let message = format!(
                "another service already uses {} port {}",
                format!("{:?}", s.protocol).to_uppercase(),
                s.port.get_ref()
            );
            let help = "describe each listening port once";
            return Err(Issue::at(
                Kind::Duplicate,
                &s.port,
                format!("services[{i}].port"),
                message,
                help,
            ));
        }
    }
    Ok(())
}

pub(super) fn check_service(s: &RawService, at: &str, driver: Driver) -> Result<(), Issue> {
    id(&s.id, &format!("{at}.id"))?;
    text(&s.description, &format!("{at}.description"))?;
    if *s.port.get_ref() == 0 {
        return Err(Issue::at(
            Kind::InvalidValue,
            &s.port,
            format!("{at}.port"),
            "must be > 0",
            "give the port number",
        ));
    }
    if let Some(setting) = &s.close_setting {
        return check_close_setting(s, setting, at, driver);
    }
    let closers = [
        ("stop_command", &s.stop_command),
        ("disable_command", &s.disable_command),
        ("status_command", &s.status_command),
    ];
    for (name, value) in closers {
        match value {
            Some(value) => command(value, &format!("{at}.{name}"))?,
            None if !*s.allowed.get_ref() => {
                return Err(missing_closer(s, at, name, "\"<command>\""))
            }
            None => {}
        }
    }
    match &s.disabled_pattern {
        Some(pattern) => compile(pattern, &format!("{at}.disabled_pattern"), None).map(drop),
        None if !*s.allowed.get_ref() => {
            Err(missing_closer(s, at, "disabled_pattern", "'<regex>'"))
        }
        None => Ok(()),
    }
}

/// A service closed through an SMP setting: driver "smp", no closing commands beside it, a valid name and a
/// value.
fn check_close_setting(
    s: &RawService,
    setting: &Spanned<RawSettingValue>,
    at: &str,
    driver: Driver,
) -> Result<(), Issue> {
    let field = format!("{at}.close_setting");
    if driver != Driver::Smp {
        return Err(Issue::at(
            Kind::BadReference,
            setting,
            field,
            "close_setting needs driver = \"smp\" (settings are written with the SMP settings group)",
            "close the service with stop_command, disable_command, status_command and disabled_pattern",
        ));
    }
    let commands = [
        &s.stop_command,
        &s.disable_command,
        &s.status_command,
        &s.disabled_pattern,
    ];
    if let Some(value) = commands.into_iter().flatten().next() {
        return Err(Issue::at(
            Kind::InvalidValue,
            value,
            field,
            "give either close_setting or the closing commands, not both",
            "remove the commands: the setting is written, committed and read back",
        ));
    }
    setting_name(
        &Spanned::new(setting.span(), setting.get_ref().name.clone()),
        &format!("{at}.close_setting.name"),
    )?;
    if setting.get_ref().value.is_empty() {
        return Err(Issue::at(
            Kind::InvalidValue,
            setting,
            format!("{at}.close_setting.value"),
            "must not be empty",
            "write the value that turns the service off, e.g. \"0\"",
        ));
    }
    Ok(())
}

/// An SMP setting name: path segments of letters, digits, '_', '-' and '.', joined by '/', at most 64 bytes
/// (Zephyr's SETTINGS_MAX_NAME_LEN is 8 * SETTINGS_MAX_DIR_DEPTH).
pub(crate) fn setting_name(name: &Spanned<String>, field: &str) -> Result<(), Issue> {
    let text = name.get_ref();
    let segment_ok = |seg: &str| {
        !seg.is_empty()
            && seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
    };
    if text.len() > 64 || !text.split('/').all(segment_ok) {
        return Err(Issue::at(
            Kind::InvalidValue,
            name,
            field,
            format!("{text:?} is not a setting name"),
            "write the name as the firmware registers it, e.g. \"app/admin_pw\"",
        ));
    }
    Ok(())
}

fn missing_closer(s: &RawService, at: &str, name: &str, hint: &str) -> Issue {
    let message = format!(
        "{:?} is not allowed, so Temper must close it, but {name} is missing",
        s.id.get_ref()
    );
    let help = format!(
        "add {name} = {hint} to this [[services]] entry (or, driver \"smp\", close_setting), or set allowed = true"
    );
    Issue::at(
        Kind::MissingField,
        &s.allowed,
        format!("{at}.{name}"),
        message,
        help,
    )
}

pub(super) fn check_credential(c: &RawCredential, at: &str, driver: Driver) -> Result<(), Issue> {
    id(&c.id, &format!("{at}.id"))?;
    text(&c.description, &format!("{at}.description"))?;
    text(&c.username, &format!("{at}.username"))?;
    if *c.kind.get_ref() == CredentialKind::Setting {
        check_setting_store(c, at, driver)?;
        return check_confirm(c, at);
    }
    if let Some(setting) = &c.setting {
        return Err(Issue::at(
            Kind::BadReference,
            setting,
            format!("{at}.setting"),
            "setting is only for kind = \"setting\" stores",
            "remove it, or set kind = \"setting\" (and drop change_command and change_success)",
        ));
    }
    if *c.kind.get_ref() == CredentialKind::ConsoleLogin && driver != Driver::Console {
        return Err(Issue::at(
            Kind::BadReference,
            &c.kind,
            format!("{at}.kind"),
            "a console-login store needs driver = \"console\"",
            "an SMP device has no console login: use kind = \"setting\" or \"command\"",
        ));
    }
    let missing = |name: &str, what: &str| {
        Issue::at(
            Kind::MissingField,
            &c.kind,
            format!("{at}.{name}"),
            format!("a {:?} store needs {name}", c.kind.get_ref()),
            format!("add {name} ({what})"),
        )
    };
    let change_command = c
        .change_command
        .as_ref()
        .ok_or_else(|| missing("change_command", "the command that sets '{new}'"))?;
    let change_success = c
        .change_success
        .as_ref()
        .ok_or_else(|| missing("change_success", "a regex its output matches"))?;
    command(change_command, &format!("{at}.change_command"))?;
    compile(change_success, &format!("{at}.change_success"), None)?;
    check_change_dialog(c, change_command, at)?;
    check_new_password_quoting(change_command, at)?;
    check_confirm(c, at)
}

/// A kind "setting" store: driver "smp", a setting name, no commands, confirmed from outside.
fn check_setting_store(c: &RawCredential, at: &str, driver: Driver) -> Result<(), Issue> {
    if driver != Driver::Smp {
        return Err(Issue::at(
            Kind::BadReference,
            &c.kind,
            format!("{at}.kind"),
            "a \"setting\" store needs driver = \"smp\" (it is written with the SMP settings group)",
            "use kind = \"command\" with a change_command",
        ));
    }
    let Some(setting) = &c.setting else {
        return Err(Issue::at(
            Kind::MissingField,
            &c.kind,
            format!("{at}.setting"),
            "a \"setting\" store needs setting",
            "add setting = \"<the setting's name>\", e.g. \"app/admin_pw\"",
        ));
    };
    setting_name(setting, &format!("{at}.setting"))?;
    let commands = [&c.change_command, &c.change_success];
    if let Some(value) = commands.into_iter().flatten().next() {
        return Err(Issue::at(
            Kind::BadReference,
            value,
            format!("{at}.change_command"),
            "a \"setting\" store is written through the SMP settings group, not a command",
            "remove change_command and change_success",
        ));
    }
    if let Some(dialog) = &c.change_dialog {
        return Err(Issue::at(
            Kind::BadReference,
            dialog,
            format!("{at}.change_dialog"),
            "change_dialog is only for kind = \"console-login\" stores",
            "remove it",
        ));
    }
    Ok(())
}

fn check_change_dialog(
    c: &RawCredential,
    change_command: &Spanned<String>,
    at: &str,
) -> Result<(), Issue> {
    let kind = *c.kind.get_ref();
    let Some(dialog) = &c.change_dialog else {
        if !change_command.get_ref().contains(NEW_PASSWORD) {
            let message =
                "the new password never reaches the device: no {new} and no change_dialog";
            let help =
                "write '{new}' in change_command, or (console-login stores) add a change_dialog";
            return Err(Issue::at(
                Kind::InvalidValue,
                change_command,
                format!("{at}.change_command"),
                message,
                help,
            ));
        }
        return Ok(());
    };
    if kind != CredentialKind::ConsoleLogin {
        let message = "change_dialog is only for kind = \"console-login\" stores";
        let help = "put '{new}' in change_command and remove change_dialog, or set kind = \"console-login\"";
        return Err(Issue::at(
            Kind::BadReference,
            dialog,
            format!("{at}.change_dialog"),
            message,
            help,
        ));
    }
    if dialog.get_ref().is_empty() {
        let help = "list the prompts, or remove change_dialog";
        return Err(Issue::at(
            Kind::InvalidValue,
            dialog,
            format!("{at}.change_dialog"),
            "must not be empty",
            help,
        ));
    }
    for (i, step) in dialog.get_ref().iter().enumerate() {
        let field = format!("{at}.change_dialog[{i}]");
        let expect = Spanned::new(step.span(), step.get_ref().expect.clone());
        compile(&expect, &format!("{field}.expect"), None)?;
        let send = &step.get_ref().send;
        if !send.contains(NEW_PASSWORD) || send.chars().any(char::is_control) {
            let message = "send must contain {new} and no control characters";
            let help = "write send = \"{new}\"; the line ending is added by Temper";
            return Err(Issue::at(
                Kind::InvalidValue,
                step,
                format!("{field}.send"),
                message,
                help,
            ));
        }
    }
    Ok(())
}

/// A shell command carries the new password safely only inside single quotes: the alphabet holds no quote,
/// but may hold `$`, `;` or `&`.
fn check_new_password_quoting(change_command: &Spanned<String>, at: &str) -> Result<(), Issue> {
    if !placeholders_single_quoted(change_command.get_ref()) {
        let message = "{new} must be inside single quotes, e.g. '{new}'";
        let help = "the password alphabet may hold shell metacharacters; quote it: '{new}'";
        return Err(Issue::at(
            Kind::InvalidValue,
            change_command,
            format!("{at}.change_command"),
            message,
            help,
        ));
    }
    Ok(())
}

/// Whether every `{new}` in a shell command lies inside a '...' string (a rough POSIX shell quote scan).
fn placeholders_single_quoted(template: &str) -> bool {
    let (mut single, mut double, mut escaped) = (false, false, false);
    for (i, c) in template.char_indices() {
        if template[i..].starts_with(NEW_PASSWORD) && !single {
            return false;
        }
        match c {
            _ if escaped => escaped = false,
            '\\' if !single => escaped = true,
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            _ => {}
        }
    }
    true
}

fn check_confirm(c: &RawCredential, at: &str) -> Result<(), Issue> {
    let field = format!("{at}.confirm");
    match c.confirm.get_ref() {
        RawConfirm::ConsoleLogin {} if *c.kind.get_ref() != CredentialKind::ConsoleLogin => {
            let message = "a console login cannot confirm a store that is not the console login";
            let help =
                "use method = \"http-digest\" or \"rtsp-digest\", or set kind = \"console-login\"";
            Err(Issue::at(
                Kind::BadReference,
                &c.confirm,
                field,
                message,
                help,
            ))
        }
        RawConfirm::ConsoleLogin {} => Ok(()),
        RawConfirm::HttpDigest { port, path } | RawConfirm::RtspDigest { port, path } => {
            if *port == 0 || !path.starts_with('/') {
                let message = format!(
                    "port {port} and path {path:?}: need a port > 0 and a path starting with '/'"
                );
                return Err(Issue::at(
                    Kind::InvalidValue,
                    &c.confirm,
                    field,
                    message,
                    "e.g. port = 80, path = \"/\"",
                ));
            }
            Ok(())
        }
    }
}

pub(super) fn ensure_credential_services_exist(raw: &RawProfile) -> Result<(), Issue> {
    let services: Vec<&str> = raw
        .services
        .iter()
        .map(|s| s.get_ref().id.get_ref().as_str())
        .collect();
    for (i, credential) in raw.credentials.iter().enumerate() {
        let service = &credential.get_ref().service;
        if !services.contains(&service.get_ref().as_str()) {
            let message = format!("no service has id {:?}", service.get_ref());
            let help = format!("use one of: {}", services.join(", "));
            return Err(Issue::at(
                Kind::BadReference,
                service,
                format!("credentials[{i}].service"),
                message,
                help,
            ));
        }
    }
    Ok(())
}

pub(super) fn check_accounts(a: &RawAccounts) -> Result<(), Issue> {
    command(&a.list_command, "accounts.list_command")?;
    command(&a.locked_check_command, "accounts.locked_check_command")?;
    command(&a.lock_command, "accounts.lock_command")?;
    for (value, field) in [
        (&a.lock_command, "accounts.lock_command"),
        (&a.locked_pattern, "accounts.locked_pattern"),
    ] {
        if !value.get_ref().contains(USER) {
            let help = "write {user} where the account name goes";
            return Err(Issue::at(
                Kind::InvalidValue,
                value,
                field,
                "must contain {user}",
                help,
            ));
        }
    }
    let mut names: Vec<&str> = vec!["sample-user"];
    for (i, user) in a.lock.iter().enumerate() {
        let name = user.get_ref();
        let portable = !name.starts_with('-')
            && name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-'));
        if name.is_empty() || !portable {
            let message = format!("{name:?} is not a portable user name");
            let help = "use letters, digits, '.', '_' and '-' (not first); the name goes into a shell command";
            return Err(Issue::at(
                Kind::InvalidValue,
                user,
                format!("accounts.lock[{i}]"),
                message,
                help,
            ));
        }
        names.push(name);
    }
    for name in names {
        let pattern = Spanned::new(
            a.locked_pattern.span(),
            a.locked_pattern
                .get_ref()
                .replace(USER, &regex::escape(name)),
        );
        compile(&pattern, "accounts.locked_pattern", None)?;
    }
    Ok(())
}
