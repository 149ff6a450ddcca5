//! `temper inventory list|show`: what the inventory holds (never a secret).

use clap::Subcommand;
use temper_core::inventory::Inventory;

use crate::{exit, Failure, Globals};

/// Inventory subcommands.
#[derive(Subcommand)]
pub enum Cmd {
    /// Create a new inventory and print its one-time recovery key.
    Init,
    /// List every device.
    List,
    /// Show one device: identity, credential states, steps and checks.
    Show {
        /// The device's serial number.
        #[arg(long)]
        device: String,
        /// Also print the device's credentials (recorded in the audit trail with your name).
        #[arg(long)]
        reveal: bool,
    },
    /// Change the inventory key (and the recovery key), re-sealing every secret.
    Rekey(super::keyops::RekeyArgs),
    /// Write an encrypted, self-contained backup (it opens with the recovery key alone).
    Backup {
        /// The backup file to write.
        file: std::path::PathBuf,
    },
    /// Check a backup: its MAC, database and audit trail (with --recovery-key or the inventory's key).
    VerifyBackup {
        /// The backup file.
        file: std::path::PathBuf,
    },
    /// Restore a backup to the inventory path (which must not exist), with --recovery-key or its key.
    Restore {
        /// The backup file.
        file: std::path::PathBuf,
    },
}

impl Cmd {
    /// Runs the subcommand.
    pub fn run(self, globals: &Globals) -> Result<u8, Failure> {
        let (device, reveal) = match self {
            Cmd::Init => return super::keyops::init(globals),
            Cmd::Rekey(args) => return args.run(globals),
            Cmd::Backup { file } => return super::keyops::backup(globals, &file),
            Cmd::VerifyBackup { file } => return super::keyops::verify_backup(globals, &file),
            Cmd::Restore { file } => return super::keyops::restore(globals, &file),
            Cmd::List => (None, false),
            Cmd::Show { device, reveal } => (Some(device), reveal),
        };
        let mut inventory = super::open_inventory(globals)?;
        let failed = |e: temper_core::inventory::InventoryError| Failure::new(exit::FAILED, e);
        match device {
            None => {
                let devices = inventory.devices().map_err(failed)?;
                if globals.json {
                    println!("{}", serde_json::json!({ "devices": devices }));
                    return Ok(exit::HARDENED);
                }
                if devices.is_empty() {
                    println!(
                        "no devices yet: run `temper commission --port PATH` (or `temper demo`)"
                    );
                }
                for d in devices {
                    println!(
                        "{:<18} {:<24} {:<8} {:<12} {}",
                        d.serial,
                        d.model,
                        d.firmware,
                        serde_json::to_value(d.state)
                            .ok()
                            .and_then(|v| v.as_str().map(String::from))
                            .unwrap_or_default(),
                        d.site.unwrap_or_default()
                    );
                }
                Ok(exit::HARDENED)
            }
            Some(device) => {
                let record = inventory.device(&device).map_err(failed)?.ok_or_else(|| {
                    Failure::new(exit::USAGE, format!("no device with serial {device} in the inventory; see `temper inventory list`"))
                })?;
                let credentials = if reveal {
                    inventory.reveal(&device).map_err(failed)?
                } else {
                    inventory.credentials(&device).map_err(failed)?
                };
                let mut steps = inventory.steps(&device).map_err(failed)?;
                // Plan order, not name order.
                steps.sort_by_key(|s| {
                    temper_core::event::StepId::parse(&s.step).map(|id| id as usize)
                });
                let checks = inventory.checks(&device).map_err(failed)?;
                let mut certs = inventory.device_certs(&device).map_err(failed)?;
                certs.sort_by_key(|c| c.not_after);
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let creds: Vec<serde_json::Value> = credentials
                    .iter()
                    .map(|c| {
                        serde_json::json!({
                            "store": c.store,
                            "username": c.username,
                            "current": match (&c.current, reveal) {
                                (Some(secret), true) => secret.expose().to_string(),
                                (Some(_), false) => "set".to_string(),
                                (None, _) => "factory default".to_string(),
                            },
                            "pending_secret": c.pending.as_ref().filter(|_| reveal).map(|s| s.expose().to_string()),
                            "pending": c.pending.is_some(),
                            "changed_at": c.changed_at,
                            "age_days": c.changed_at.map(|t| now.saturating_sub(t) / 86_400),
                        })
                    })
                    .collect();
                let link =
                    temper_core::inventory::link::link(&inventory, &device).map_err(failed)?;
                let doc = serde_json::json!({
                    "device": record,
                    "link": link,
                    "credentials": creds,
                    "steps": steps.iter().map(|s| serde_json::json!({"step": s.step, "state": s.state, "at": s.at})).collect::<Vec<_>>(),
                    "checks": checks.iter().map(|(phase, c)| serde_json::json!({"phase": phase, "check": c})).collect::<Vec<_>>(),
                    "certificates": certs.iter().map(|c| serde_json::json!({"fingerprint": c.fingerprint, "state": c.state, "not_after": c.not_after, "at": c.at})).collect::<Vec<_>>(),
                });
                if globals.json {
                    println!("{doc}");
                    return Ok(exit::HARDENED);
                }
                println!(
                    "{} {} (serial {}, firmware {})",
                    record.model,
                    record.state.as_str(),
                    record.serial,
                    record.firmware
                );
                println!(
                    "  profile {} (sha256 {}), address {}, site {}",
                    record.profile_id,
                    &record.profile_hash[..record.profile_hash.len().min(16)],
                    record.address.as_deref().unwrap_or("-"),
                    record.site.as_deref().unwrap_or("-")
                );
                if let Some(link) = &link {
                    println!("  reached over {}", describe_link(link));
                }
                println!(
                    "  credentials{}",
                    if reveal {
                        " (revealed: this is recorded in the audit trail)"
                    } else {
                        " (add --reveal to print them)"
                    }
                );
                for c in &credentials {
                    let state = match (&c.current, &c.pending) {
                        (_, Some(_)) => "PENDING confirmation".to_string(),
                        (Some(_), None) => match c.changed_at {
                            Some(at) => format!(
                                "set by Temper, {} days old",
                                now.saturating_sub(at) / 86_400
                            ),
                            None => "set by Temper".to_string(),
                        },
                        (None, None) => "factory default".to_string(),
                    };
                    println!("    {:<12} {:<8} {state}", c.store, c.username);
                    if reveal {
                        if let Some(secret) = &c.current {
                            println!("                          current: {}", secret.expose());
                        }
                        if let Some(secret) = &c.pending {
                            println!("                          pending: {}", secret.expose());
                        }
                    }
                }
                println!("  steps");
                for step in &steps {
                    let state = match &step.state {
                        temper_core::inventory::StepState::Done => "done".to_string(),
                        temper_core::inventory::StepState::Failed { message } => {
                            format!("FAILED: {message}")
                        }
                    };
                    println!("    {:<26} {state}", step.step);
                }
                if !certs.is_empty() {
                    println!("  certificates (by expiry)");
                    for c in &certs {
                        let until = humantime::format_rfc3339_seconds(
                            std::time::UNIX_EPOCH + std::time::Duration::from_secs(c.not_after),
                        );
                        println!(
                            "    {:<10} until {until}  {}",
                            c.state.as_str(),
                            c.fingerprint
                        );
                    }
                }
                println!("  checks");
                for (phase, check) in &checks {
                    let mark = if check.passed { "ok  " } else { "FAIL" };
                    println!("    {mark} {:<9} {:<29} {}", phase, check.id, check.subject);
                }
                Ok(exit::HARDENED)
            }
        }
    }
}

/// `Bluetooth LE D4:5A:… (bonded with adapter 00:1A:…)` or `serial port /dev/ttyUSB0`.
fn describe_link(link: &temper_core::inventory::link::DeviceLink) -> String {
    use temper_core::inventory::link::LinkKind;
    match link.transport {
        LinkKind::Serial => format!("serial port {}", link.address),
        LinkKind::Ble if link.bonded => format!(
            "Bluetooth LE {} (bonded with adapter {})",
            link.address,
            link.adapter.as_deref().unwrap_or("?")
        ),
        LinkKind::Ble => format!("Bluetooth LE {} (no bond)", link.address),
    }
}
