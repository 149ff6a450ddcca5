//! `temper label`: the credential label for the device's box, as an SVG (reveals the password: audited).

use std::path::PathBuf;

use clap::Args;
use temper_core::label::{CredentialLabel, LabelError};

use crate::{exit, Failure, Globals};

/// Options of `temper label`.
#[derive(Args)]
pub struct Cmd {
    /// The device's serial number.
    #[arg(long, value_name = "SERIAL")]
    device: String,
    /// The credential store, e.g. web-admin (default: the device's only one).
    #[arg(long)]
    store: Option<String>,
    /// The SVG file to write (mode 0600: it holds the password).
    #[arg(long, value_name = "FILE.svg")]
    out: PathBuf,
}

impl Cmd {
    /// Reveals the credential (recorded in the audit trail), writes the label and says where; never prints it.
    pub fn run(self, globals: &Globals) -> Result<u8, Failure> {
        let mut inventory = super::open_inventory(globals)?;
        let label = CredentialLabel::reveal(&mut inventory, &self.device, self.store.as_deref())
            .map_err(|e| match e {
                LabelError::Inventory(e) => super::inventory_failure(e),
                e @ (LabelError::ChooseStore { .. } | LabelError::UnknownStore { .. }) => {
                    Failure::new(
                        exit::USAGE,
                        format!("{e}\nhelp: pass --store with one of them"),
                    )
                }
                other => Failure::new(exit::USAGE, other),
            })?;
        label.save_svg(&self.out).map_err(|e| {
            Failure::new(
                exit::FAILED,
                format!("cannot write {}: {e}", self.out.display()),
            )
        })?;
        eprintln!(
            "warning: {} holds the password in clear text: print it, put it in the device's box, delete the file",
            self.out.display()
        );
        if globals.json {
            let line = serde_json::json!({"path": self.out, "device": label.serial, "store": label.store, "username": label.username});
            println!("{line}");
        } else {
            println!("{}", self.out.display());
        }
        Ok(exit::HARDENED)
    }
}
