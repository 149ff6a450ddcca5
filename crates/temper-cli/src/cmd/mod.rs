//! Subcommands, and what they share: opening the inventory and loading profiles.

pub mod audit;
pub mod ble;
pub mod ca;
pub mod cert;
pub mod commission;
pub mod demo;
pub mod devices;
pub mod handover;
pub mod image;
pub mod inventory;
pub mod keyops;
pub mod label;
pub mod profile;

use std::path::PathBuf;

use temper_core::inventory::{default_actor, InventoryError, SqlCipherInventory};
use temper_core::profile::{self as profiles, Profile};

use crate::{exit, keys, Failure, Globals};

/// The inventory path: `--inventory`, or `$XDG_DATA_HOME/temper/inventory.db`.
pub fn inventory_path(globals: &Globals) -> PathBuf {
    if let Some(path) = &globals.inventory {
        return path.clone();
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("temper").join("inventory.db")
}

/// The actor recorded in audit events.
pub fn actor(globals: &Globals) -> String {
    globals.actor.clone().unwrap_or_else(default_actor)
}

/// Opens the existing inventory with the key the user chose (see [`keys::for_open`]).
pub fn open_inventory(globals: &Globals) -> Result<SqlCipherInventory, Failure> {
    let path = inventory_path(globals);
    if !SqlCipherInventory::exists(&path) {
        return Err(Failure::new(
            exit::USAGE,
            format!(
                "no inventory at {}\nhelp: create one with `temper inventory init` (or pass --inventory PATH)",
                path.display()
            ),
        ));
    }
    let source = keys::for_open(globals, &path)?;
    SqlCipherInventory::open_keyed(&path, &source, &actor(globals)).map_err(inventory_failure)
}

/// Maps an inventory error to a failure with its exit code.
pub fn inventory_failure(error: InventoryError) -> Failure {
    let code = match error {
        InventoryError::Database(_) | InventoryError::Io { .. } => exit::FAILED,
        _ => exit::USAGE,
    };
    Failure::new(code, error)
}

/// Loads the profiles: all of them, or the one named.
pub fn load_profiles(globals: &Globals, only: Option<&str>) -> Result<Vec<Profile>, Failure> {
    let dir = globals
        .profiles
        .clone()
        .unwrap_or_else(profiles::default_dir);
    let all = profiles::load_dir(&dir).map_err(|e| Failure::new(exit::USAGE, e))?;
    match only {
        None => Ok(all),
        Some(id) => {
            let ids: Vec<String> = all.iter().map(|p| p.id.clone()).collect();
            let chosen: Vec<Profile> = all.into_iter().filter(|p| p.id == id).collect();
            if chosen.is_empty() {
                return Err(Failure::new(
                    exit::USAGE,
                    format!(
                        "no profile {id:?} in {}; known: {}",
                        dir.display(),
                        ids.join(", ")
                    ),
                ));
            }
            Ok(chosen)
        }
    }
}
