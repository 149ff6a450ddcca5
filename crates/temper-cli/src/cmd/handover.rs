//! `temper handover`: the installer's handover report, one HTML file (never a secret).

use std::path::PathBuf;

use clap::Args;
use temper_core::handover::HandoverReport;

use crate::{exit, Failure, Globals};

/// Options of `temper handover`.
#[derive(Args)]
pub struct Cmd {
    /// Only the devices of this site (default: every device in the inventory).
    #[arg(long)]
    site: Option<String>,
    /// Only this device; repeat for several.
    #[arg(long = "device", value_name = "SERIAL")]
    devices: Vec<String>,
    /// The directory to write the report to (created if missing).
    #[arg(long, value_name = "DIR")]
    out_dir: PathBuf,
}

impl Cmd {
    /// Writes the report and prints its path (with `--json`: `{"path": ..., "report": ...}`).
    pub fn run(self, globals: &Globals) -> Result<u8, Failure> {
        let inventory = super::open_inventory(globals)?;
        let serials = (!self.devices.is_empty()).then_some(self.devices.as_slice());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let report = HandoverReport::from_inventory(&inventory, self.site.as_deref(), serials, now)
            .map_err(super::inventory_failure)?;
        if report.devices.is_empty() {
            return Err(Failure::new(
                exit::USAGE,
                "no device matches the site and devices given\nhelp: see `temper inventory list`",
            ));
        }
        // Profiles only add the password expiry policy and service names: without them the report says less.
        let report = match super::load_profiles(globals, None) {
            Ok(profiles) => report.with_profiles(&profiles),
            Err(failure) => {
                eprintln!(
                    "warning: no password expiry in the report: {}",
                    failure.message
                );
                report
            }
        };
        let path = report.save_html(&self.out_dir).map_err(|e| {
            Failure::new(
                exit::FAILED,
                format!("cannot write the report to {}: {e}", self.out_dir.display()),
            )
        })?;
        if globals.json {
            println!("{}", serde_json::json!({ "path": path, "report": report }));
        } else {
            println!("{}", path.display());
        }
        Ok(exit::HARDENED)
    }
}
