//! Turns a validated raw profile into the typed [`Profile`]. Patterns are compiled again here; the `?`s
//! cannot fail after [`super::validate::validate`] passed, but they keep this code free of panics.

use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::error::Issue;
use super::model::{
    Accounts, AddressSpec, Confirm, CredentialChange, CredentialStore, DialogTemplate, Recognition,
    ServiceSpec, SettingValue, SmpSpec,
};
use super::policy::PasswordPolicy;
use super::raw::{RawConfirm, RawConsole, RawCredential, RawProfile, RawService, RawSmp};
use super::validate::{compile, parse_usb_id};
use super::{Profile, DEFAULT_TRIAL_CONCURRENCY};
use crate::proto::console::ConsoleConfig;
use crate::secret::Secret;

/// Builds the typed profile from a raw profile that passed validation.
pub(crate) fn build(
    raw: RawProfile,
    source_path: &Path,
    source_hash: String,
) -> Result<Profile, Issue> {
    let (clock, certificate) = super::certificate::build(&raw)?;
    let recognition = recognition(&raw)?;
    let console = raw.console.as_ref().map(console).transpose()?;
    let smp = raw.smp.as_ref().map(smp);
    let ble = raw.ble.as_ref().map(super::ble::build).transpose()?;
    let baud = match (&raw.console, &raw.smp) {
        (Some(c), _) => *c.baud.get_ref(),
        (None, Some(s)) => *s.baud.get_ref(),
        (None, None) => 115_200,
    };
    let address = AddressSpec {
        command: raw.address.command.get_ref().clone(),
        pattern: compile(&raw.address.pattern, "address.pattern", Some("ip"))?,
    };
    let password_policy = PasswordPolicy::from_raw(&raw.password_policy);
    let credentials = raw
        .credentials
        .into_iter()
        .enumerate()
        .map(|(i, c)| credential(c.into_inner(), &format!("credentials[{i}]")))
        .collect::<Result<_, _>>()?;
    let services = raw
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| service(s.get_ref(), &format!("services[{i}]")))
        .collect::<Result<_, _>>()?;
    let accounts = raw.accounts.map(|a| {
        Accounts::new(
            a.list_command.into_inner(),
            a.lock.into_iter().map(Spanned::into_inner).collect(),
            a.lock_command.into_inner(),
            a.locked_check_command.into_inner(),
            a.locked_pattern.into_inner(),
        )
    });
    let header = raw.profile;
    Ok(Profile {
        id: header.id.into_inner(),
        name: header.name.into_inner(),
        vendor: header.vendor.into_inner(),
        driver: header.driver.into_inner(),
        source_path: source_path.to_path_buf(),
        source_hash,
        recognition,
        baud,
        console,
        smp,
        ble,
        address,
        password_policy,
        credentials,
        accounts,
        services,
        trial_concurrency: raw
            .checks
            .trial_concurrency
            .as_ref()
            .map_or(DEFAULT_TRIAL_CONCURRENCY, |n| usize::from(*n.get_ref())),
        clock,
        certificate,
        extra_udp_ports: raw
            .checks
            .extra_udp_ports
            .into_iter()
            .map(Spanned::into_inner)
            .collect(),
    })
}

fn recognition(raw: &RawProfile) -> Result<Recognition, Issue> {
    let r = &raw.recognition;
    Ok(Recognition {
        usb_ids: r
            .usb_ids
            .iter()
            .map(|u| parse_usb_id(u, "recognition.usb_ids"))
            .collect::<Result<_, _>>()?,
        banner: r
            .banner
            .as_ref()
            .map(|b| compile(b, "recognition.banner", None))
            .transpose()?,
        identity_command: r.identity_command.get_ref().clone(),
        model_pattern: compile(&r.model_pattern, "recognition.model_pattern", Some("model"))?,
        serial_pattern: compile(
            &r.serial_pattern,
            "recognition.serial_pattern",
            Some("serial"),
        )?,
        firmware_command: r.firmware_command.get_ref().clone(),
        firmware_pattern: compile(
            &r.firmware_pattern,
            "recognition.firmware_pattern",
            Some("firmware"),
        )?,
    })
}

fn console(c: &RawConsole) -> Result<ConsoleConfig, Issue> {
    Ok(ConsoleConfig {
        login_prompt: compile(&c.login_prompt, "console.login_prompt", None)?,
        password_prompt: compile(&c.password_prompt, "console.password_prompt", None)?,
        shell_prompt: compile(&c.shell_prompt, "console.shell_prompt", None)?,
        login_failed: compile(&c.login_failed, "console.login_failed", None)?,
        kernel_line: compile(&c.kernel_line, "console.kernel_line", None)?,
        line_ending: c.line_ending.get_ref().clone(),
        logout_command: c.logout_command.get_ref().clone(),
        login_timeout: Duration::from_millis(*c.login_timeout_ms.get_ref()),
        command_timeout: Duration::from_millis(*c.command_timeout_ms.get_ref()),
    })
}

/// Default wait for an SMP reply.
const SMP_TIMEOUT_MS: u64 = 3_000;
/// Default wait for a shell command run through the SMP shell group (an MCU makes keys slowly).
const SMP_COMMAND_TIMEOUT_MS: u64 = 30_000;

fn smp(s: &RawSmp) -> SmpSpec {
    let ms = |v: &Option<Spanned<u64>>, default| v.as_ref().map_or(default, |v| *v.get_ref());
    SmpSpec {
        timeout: Duration::from_millis(ms(&s.timeout_ms, SMP_TIMEOUT_MS)),
        command_timeout: Duration::from_millis(ms(&s.command_timeout_ms, SMP_COMMAND_TIMEOUT_MS)),
    }
}

fn credential(c: RawCredential, at: &str) -> Result<CredentialStore, Issue> {
    let change_dialog = c
        .change_dialog
        .map(Spanned::into_inner)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, step)| {
            let span = step.span();
            let step = step.into_inner();
            let expect = Spanned::new(span, step.expect);
            let field = format!("{at}.change_dialog[{i}].expect");
            Ok(DialogTemplate {
                expect: compile(&expect, &field, None)?,
                send: step.send,
            })
        })
        .collect::<Result<_, Issue>>()?;
    let confirm = match c.confirm.into_inner() {
        RawConfirm::ConsoleLogin {} => Confirm::ConsoleLogin,
        RawConfirm::HttpDigest { port, path } => Confirm::HttpDigest { port, path },
        RawConfirm::RtspDigest { port, path } => Confirm::RtspDigest { port, path },
    };
    // Checked at load: a setting store has `setting`, the others `change_command` and `change_success`.
    let change = match (c.setting, c.change_command, c.change_success) {
        (Some(name), _, _) => CredentialChange::Setting {
            name: name.into_inner(),
        },
        (None, Some(command), Some(success)) => CredentialChange::Command {
            success: compile(&success, &format!("{at}.change_success"), None)?,
            command: command.into_inner(),
            dialog: change_dialog,
        },
        (None, command, _) => {
            let anchor = command.as_ref().map_or(c.id.span(), Spanned::span);
            return Err(Issue::at(
                super::error::ProfileErrorKind::MissingField,
                &Spanned::new(anchor, ()),
                format!("{at}.change_success"),
                "the store has no way to change its password",
                "add change_command and change_success, or kind = \"setting\" with setting",
            ));
        }
    };
    Ok(CredentialStore {
        id: c.id.into_inner(),
        kind: c.kind.into_inner(),
        description: c.description.into_inner(),
        username: c.username.into_inner(),
        default_password: Secret::new(c.default_password.into_inner()),
        change,
        confirm,
        service: c.service.into_inner(),
    })
}

fn service(s: &RawService, at: &str) -> Result<ServiceSpec, Issue> {
    let command = |value: &Option<Spanned<String>>| value.as_ref().map(|v| v.get_ref().clone());
    let disabled_pattern = match &s.disabled_pattern {
        Some(pattern) => Some(compile(pattern, &format!("{at}.disabled_pattern"), None)?),
        None => None,
    };
    Ok(ServiceSpec {
        id: s.id.get_ref().clone(),
        description: s.description.get_ref().clone(),
        protocol: s.protocol,
        port: *s.port.get_ref(),
        allowed: *s.allowed.get_ref(),
        stop_command: command(&s.stop_command),
        disable_command: command(&s.disable_command),
        status_command: command(&s.status_command),
        disabled_pattern,
        close_setting: s.close_setting.as_ref().map(|v| SettingValue {
            name: v.get_ref().name.clone(),
            value: v.get_ref().value.clone(),
        }),
    })
}
