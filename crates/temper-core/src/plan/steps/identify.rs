//! Identify: open the device (log in on its console, or reach its SMP server) and read model, firmware, serial
//! and address from it.
//!
//! The driver comes from the profiles: console profiles are tried first (the console is woken); when none is
//! given, or the device shows no console prompt and an SMP profile is given, the link is driven over SMP (an
//! echo first, then the identity commands through the shell group; an SMP transport has no login).
//!
//! The device is keyed by the serial it reports, never by the port path. Logging in needs a credential before
//! the serial is known, so Temper tries, in order: the pending and current credentials of devices of this model
//! whose commissioning did not finish (a resumed run), the factory default, then the current credentials of
//! devices already hardened (a repeated run).

use std::net::IpAddr;

use crate::event::{Event, EventSink, StepId, StepOutcome};
use crate::inventory::audit::{AuditAction, NewAuditEvent};
use crate::inventory::{DeviceRecord, HardenedState, Inventory};
use crate::plan::context::{now, Opened, Run};
use crate::plan::session::DeviceSession;
use crate::plan::smp_session::SmpSession;
use crate::plan::{CommissionOptions, PlanError};
use crate::profile::{CredentialKind, CredentialStore, Profile, SmpSpec};
use crate::proto::console::{ConsoleSession, ConsoleState, LoginOutcome};
use crate::proto::smp::client::{SmpClient, SmpClientError};
use crate::transport::Link;
use crate::Secret;

/// At most this many logins are tried before giving up (each refused login costs the device's fail delay).
const MAX_LOGIN_ATTEMPTS: usize = 12;

pub(crate) async fn run<'i, 'e>(
    link: Box<dyn Link>,
    options: &CommissionOptions,
    inventory: &'i mut dyn Inventory,
    events: EventSink<'e>,
) -> Result<Run<'i, 'e>, PlanError> {
    events(&Event::StepStarted {
        step: StepId::Identify,
    });
    if options.profiles.is_empty() {
        return Err(PlanError::DeviceIncompatible("no profile was given".into()));
    }
    let (mut session, logged_in, password) = open(link, options, &*inventory).await?;
    let candidates: Vec<Profile> = match &logged_in {
        Some(profile) => vec![profile.clone()],
        None => Vec::new(),
    };
    let smp = matches!(session, DeviceSession::Smp(_));
    let profiles: Vec<&Profile> = candidates
        .iter()
        .chain(options.profiles.iter().filter(|p| {
            Some(&p.id) != logged_in.as_ref().map(|l| &l.id) && (p.smp.is_some() == smp)
        }))
        .collect();
    let (profile, serial, model) = recognise(&mut session, &profiles).await?;
    let firmware = read_firmware(&mut session, &profile).await?;
    let address = match options.address {
        Some(address) => address,
        None => read_address(&mut session, &profile).await?,
    };
    let existing = inventory.device(&serial)?;
    let known = existing.is_some();
    let time = now();
    let device = DeviceRecord {
        serial: serial.clone(),
        model: model.clone(),
        firmware: firmware.clone(),
        profile_id: profile.id.clone(),
        profile_hash: profile.source_hash.clone(),
        site: options
            .site
            .clone()
            .or_else(|| existing.as_ref().and_then(|d| d.site.clone())),
        address: Some(address.to_string()),
        state: match existing.as_ref().map(|d| d.state) {
            Some(HardenedState::Hardened) => HardenedState::Hardened,
            _ => HardenedState::InProgress,
        },
        first_seen: existing.as_ref().map(|d| d.first_seen).unwrap_or(time),
        updated_at: time,
    };
    inventory.upsert_device(&device)?;
    let loaded = NewAuditEvent::new(inventory.actor(), AuditAction::ProfileLoaded)
        .device(&serial)
        .detail(serde_json::json!({ "profile": profile.id, "sha256": profile.source_hash, "port": options.port }));
    inventory.record_event(&loaded)?;
    if let Some(link) = &options.link {
        crate::inventory::link::record_link(inventory, &serial, link.clone(), time)?;
    }
    events(&Event::DeviceIdentified {
        serial,
        model,
        firmware,
        profile: profile.id.clone(),
        known,
    });
    let port = options.port.clone();
    let opened = Opened {
        session,
        profile,
        device,
        address,
        port,
        console_password: password,
    };
    let mut run = Run::new(opened, inventory, events);
    run.end(StepId::Identify, Ok(StepOutcome::Done))?;
    Ok(run)
}

/// Opens the device with the driver its profiles name: the session, and for a console the profile whose
/// credential logged in and the password.
async fn open(
    link: Box<dyn Link>,
    options: &CommissionOptions,
    inventory: &dyn Inventory,
) -> Result<(DeviceSession, Option<Profile>, Option<Secret>), PlanError> {
    let smp_spec = options.profiles.iter().find_map(|p| p.smp.clone());
    let Some(console) = options.profiles.iter().find_map(|p| p.console.clone()) else {
        let spec = smp_spec.expect("a profile has a console or an SMP section (validated)");
        return Ok((open_smp(link, &spec).await?, None, None));
    };
    let mut session = ConsoleSession::new(link, console);
    match session.wake().await {
        Ok(ConsoleState::Shell) => {
            // A session someone left open: log out so the login below tells which credential the device has.
            session.logout().await?;
        }
        Ok(_) => {}
        Err(e) => match smp_spec {
            Some(spec) => {
                tracing::info!("no console prompt ({e}); trying SMP");
                return match open_smp(session.into_link(), &spec).await {
                    // Silent to SMP too: the console's error says more (the last bytes seen).
                    Err(PlanError::Smp(SmpClientError::Timeout { .. })) => Err(e.into()),
                    other => other.map(|smp| (smp, None, None)),
                };
            }
            None => return Err(e.into()),
        },
    }
    let (logged_in, password) = log_in(&mut session, &options.profiles, inventory).await?;
    Ok((
        DeviceSession::Console(Box::new(session)),
        Some(logged_in),
        Some(password),
    ))
}

/// An SMP session on `link`, once the device has answered an echo.
async fn open_smp(link: Box<dyn Link>, spec: &SmpSpec) -> Result<DeviceSession, PlanError> {
    let client = SmpClient::new(link).with_timeout(spec.timeout);
    let mut smp = SmpSession::new(client, spec.command_timeout);
    smp.echo().await?;
    Ok(DeviceSession::Smp(Box::new(smp)))
}

/// The profile's console-login credential store.
pub(crate) fn console_store(profile: &Profile) -> Result<&CredentialStore, PlanError> {
    profile
        .credentials
        .iter()
        .find(|c| c.kind == CredentialKind::ConsoleLogin)
        .ok_or_else(|| PlanError::ProfileIncomplete {
            profile: profile.id.clone(),
            message: "no credential of kind \"console-login\"".into(),
        })
}

/// Logs in with the first credential that works; returns the profile it belongs to and the password.
async fn log_in(
    session: &mut ConsoleSession,
    profiles: &[Profile],
    inventory: &dyn Inventory,
) -> Result<(Profile, Secret), PlanError> {
    let mut tried = 0;
    let mut store_id = String::new();
    for profile in profiles.iter().filter(|p| p.console.is_some()) {
        let store = console_store(profile)?;
        store_id = store.id.clone();
        for password in candidates(profile, store, inventory)? {
            if tried == MAX_LOGIN_ATTEMPTS {
                break;
            }
            tried += 1;
            if session.login(&store.username, &password).await? == LoginOutcome::Accepted {
                return Ok((profile.clone(), password));
            }
        }
    }
    Err(PlanError::NoWorkingCredential {
        store: store_id,
        help: format!(
            "{tried} logins refused. If someone changed the password by hand, reset the device to factory \
             settings, or use the inventory this device was commissioned with (--inventory)"
        ),
    })
}

/// Login candidates for one profile, in the order the module docs give.
fn candidates(
    profile: &Profile,
    store: &CredentialStore,
    inventory: &dyn Inventory,
) -> Result<Vec<Secret>, PlanError> {
    let mut devices: Vec<DeviceRecord> = inventory
        .devices()?
        .into_iter()
        .filter(|d| d.profile_id == profile.id)
        .collect();
    devices.sort_by_key(|d| std::cmp::Reverse(d.updated_at));
    let mut unfinished = Vec::new();
    let mut hardened = Vec::new();
    for device in &devices {
        let Some(credential) = inventory
            .credentials(&device.serial)?
            .into_iter()
            .find(|c| c.store == store.id)
        else {
            continue;
        };
        if device.state == HardenedState::Hardened && credential.pending.is_none() {
            hardened.extend(credential.current);
        } else {
            unfinished.extend(credential.pending);
            unfinished.extend(credential.current);
        }
    }
    let mut all = unfinished;
    all.push(store.default_password.clone());
    all.extend(hardened);
    let mut unique: Vec<Secret> = Vec::new();
    for candidate in all {
        if !unique.contains(&candidate) {
            unique.push(candidate);
        }
    }
    Ok(unique)
}

/// Reads the identity and picks the profile whose model and serial patterns match it, in the order given
/// (for a console, the profile that logged in first: models of one vendor often share their console and
/// defaults).
async fn recognise(
    session: &mut DeviceSession,
    profiles: &[&Profile],
) -> Result<(Profile, String, String), PlanError> {
    let mut outputs: Vec<(String, String)> = Vec::new();
    for &profile in profiles {
        let recognition = &profile.recognition;
        let command = &recognition.identity_command;
        let output = match outputs.iter().find(|(c, _)| c == command) {
            Some((_, out)) => out.clone(),
            None => {
                let out = session.run(command).await?;
                outputs.push((command.clone(), out.clone()));
                out
            }
        };
        let group = |re: &regex::Regex, name: &str| {
            re.captures(&output)
                .and_then(|c| c.name(name))
                .map(|m| m.as_str().to_string())
        };
        if let (Some(serial), Some(model)) = (
            group(&recognition.serial_pattern, "serial"),
            group(&recognition.model_pattern, "model"),
        ) {
            return Ok(((*profile).clone(), serial, model));
        }
    }
    let first = outputs
        .first()
        .map(|(c, out)| format!("`{c}` printed {:?} first", out.lines().next().unwrap_or("")))
        .unwrap_or_default();
    let ids: Vec<&str> = profiles.iter().map(|p| p.id.as_str()).collect();
    Err(PlanError::DeviceIncompatible(format!(
        "no serial and model matching any of the profiles {} ({first})",
        ids.join(", ")
    )))
}

async fn read_firmware(
    session: &mut DeviceSession,
    profile: &Profile,
) -> Result<String, PlanError> {
    let recognition = &profile.recognition;
    let output = session.run(&recognition.firmware_command).await?;
    recognition
        .firmware_pattern
        .captures(&output)
        .and_then(|c| c.name("firmware"))
        .map(|m| m.as_str().to_string())
        .ok_or_else(|| {
            PlanError::DeviceMisbehaved(format!(
                "`{}` printed no firmware version matching the profile",
                recognition.firmware_command
            ))
        })
}

async fn read_address(session: &mut DeviceSession, profile: &Profile) -> Result<IpAddr, PlanError> {
    let output = session.run(&profile.address.command).await?;
    profile
        .address
        .pattern
        .captures(&output)
        .and_then(|c| c.name("ip"))
        .and_then(|m| m.as_str().parse().ok())
        .ok_or_else(|| {
            PlanError::DeviceMisbehaved(format!(
                "`{}` printed no address; pass the device's address with --address",
                profile.address.command
            ))
        })
}
