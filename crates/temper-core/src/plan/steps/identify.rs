//! Identify: log in on the console and read model, firmware, serial and address from the device.
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
use crate::plan::{CommissionOptions, PlanError};
use crate::profile::{CredentialKind, CredentialStore, Profile};
use crate::proto::console::{ConsoleSession, ConsoleState, LoginOutcome};
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
    let Some(console) = options.profiles.iter().find_map(|p| p.console.clone()) else {
        return Err(PlanError::DeviceIncompatible("no profile was given".into()));
    };
    let mut session = ConsoleSession::new(link, console);
    if session.wake().await? == ConsoleState::Shell {
        // A session someone left open: log out so the login below tells which credential the device has.
        session.logout().await?;
    }
    let (logged_in, password) = log_in(&mut session, &options.profiles, &*inventory).await?;
    let (profile, serial, model) = recognise(&mut session, &logged_in, &options.profiles).await?;
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
    events(&Event::DeviceIdentified {
        serial,
        model,
        firmware,
        profile: profile.id.clone(),
        known,
    });
    let port = options.port.clone();
    let opened = Opened {
        session: DeviceSession::Console(session),
        profile,
        device,
        address,
        port,
        console_password: Some(password),
    };
    let mut run = Run::new(opened, inventory, events);
    run.end(StepId::Identify, Ok(StepOutcome::Done))?;
    Ok(run)
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

/// Reads the identity and picks the profile whose model and serial patterns match it: the profile that
/// logged in first, then the others in order (models of one vendor often share their console and defaults).
async fn recognise(
    session: &mut ConsoleSession,
    logged_in: &Profile,
    profiles: &[Profile],
) -> Result<(Profile, String, String), PlanError> {
    let mut outputs: Vec<(String, String)> = Vec::new();
    let order = std::iter::once(logged_in).chain(profiles.iter().filter(|p| p.id != logged_in.id));
    for profile in order {
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
            return Ok((profile.clone(), serial, model));
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
    session: &mut ConsoleSession,
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

async fn read_address(
    session: &mut ConsoleSession,
    profile: &Profile,
) -> Result<IpAddr, PlanError> {
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
