//! `temper inventory list|show`: what the inventory holds (never a secret).

use clap::Subcommand;
use temper_core::inventory::Inventory;

use crate::{exit, Failure, Globals};

/// Inventory subcommands.
#[derive(Subcommand)]
pub enum Cmd {
    /// List every device.
    List,
    /// Show one device: identity, credential states, steps and checks.
    Show {
        /// The device's serial number.
        #[arg(long)]
        device: String,
    },
}

impl Cmd {
    /// Runs the subcommand.
    pub fn run(self, globals: &Globals) -> Result<u8, Failure> {
        let inventory = super::open_inventory(globals, false)?;
        let failed = |e: temper_core::inventory::InventoryError| Failure::new(exit::FAILED, e);
        match self {
            Cmd::List => {
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
            Cmd::Show { device } => {
                let record = inventory.device(&device).map_err(failed)?.ok_or_else(|| {
                    Failure::new(exit::USAGE, format!("no device with serial {device} in the inventory; see `temper inventory list`"))
                })?;
                let credentials = inventory.credentials(&device).map_err(failed)?;
                let mut steps = inventory.steps(&device).map_err(failed)?;
                // Plan order, not name order.
                steps.sort_by_key(|s| {
                    temper_core::event::StepId::parse(&s.step).map(|id| id as usize)
                });
                let checks = inventory.checks(&device).map_err(failed)?;
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
                            "current": if c.current.is_some() { "set" } else { "factory default" },
                            "pending": c.pending.is_some(),
                            "changed_at": c.changed_at,
                            "age_days": c.changed_at.map(|t| now.saturating_sub(t) / 86_400),
                        })
                    })
                    .collect();
                let doc = serde_json::json!({
                    "device": record,
                    "credentials": creds,
                    "steps": steps.iter().map(|s| serde_json::json!({"step": s.step, "state": s.state, "at": s.at})).collect::<Vec<_>>(),
                    "checks": checks.iter().map(|(phase, c)| serde_json::json!({"phase": phase, "check": c})).collect::<Vec<_>>(),
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
                println!("  credentials (never shown here)");
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
                println!("  checks");
                for (phase, check) in &checks {
                    let mark = if check.passed { "ok  " } else { "FAIL" };
                    println!("    {mark} {:<9} {:<27} {}", phase, check.id, check.subject);
                }
                Ok(exit::HARDENED)
            }
        }
    }
}
