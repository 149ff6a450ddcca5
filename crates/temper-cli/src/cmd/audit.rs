//! `temper audit verify|show`: the tamper-evident audit trail.

use clap::Subcommand;
use temper_core::inventory::Inventory;

use crate::{exit, Failure, Globals};

/// Audit subcommands.
#[derive(Subcommand)]
pub enum Cmd {
    /// Check the hash chain, every event's MAC and the signed head in the sidecar.
    Verify,
    /// List events, oldest first.
    Show {
        /// Only the events of this device.
        #[arg(long)]
        device: Option<String>,
    },
}

impl Cmd {
    /// Runs the subcommand.
    pub fn run(self, globals: &Globals) -> Result<u8, Failure> {
        let inventory = super::open_inventory(globals)?;
        match self {
            Cmd::Verify => {
                let trail = inventory
                    .verify_audit()
                    .map_err(|e| Failure::new(exit::FAILED, e))?;
                if globals.json {
                    println!(
                        "{}",
                        serde_json::json!({"ok": true, "events": trail.events})
                    );
                } else {
                    println!(
                        "audit trail ok: {} events, hash chain, MACs and signed head verified",
                        trail.events
                    );
                }
                Ok(exit::HARDENED)
            }
            Cmd::Show { device } => {
                let events = inventory
                    .audit_events(device.as_deref())
                    .map_err(|e| Failure::new(exit::FAILED, e))?;
                if globals.json {
                    println!("{}", serde_json::json!({ "events": events }));
                    return Ok(exit::HARDENED);
                }
                for e in events {
                    let when = humantime::format_rfc3339_seconds(
                        std::time::UNIX_EPOCH + std::time::Duration::from_secs(e.at),
                    );
                    println!(
                        "#{:<5} {when}  {:<18} {:<10} {:<18} {:<12} {}",
                        e.seq,
                        e.action.as_str(),
                        e.outcome,
                        e.device.as_deref().unwrap_or("-"),
                        e.actor,
                        e.detail
                    );
                }
                Ok(exit::HARDENED)
            }
        }
    }
}
