//! Subcommands, and what they share: opening the inventory and loading profiles.

pub mod commission;
pub mod demo;
pub mod inventory;
pub mod profile;

use std::path::PathBuf;

use temper_core::inventory::{InventoryError, SqlCipherInventory};
use temper_core::profile::{self as profiles, Profile};

use crate::{exit, passphrase, Failure, Globals};

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

/// Opens the inventory; with `create`, makes a new one if none exists.
pub fn open_inventory(globals: &Globals, create: bool) -> Result<SqlCipherInventory, Failure> {
    let path = inventory_path(globals);
    let exists = SqlCipherInventory::exists(&path);
    if !exists && !create {
        return Err(inventory_failure(InventoryError::NotFound {
            path: path.clone(),
        }));
    }
    let passphrase = passphrase::obtain(globals, !exists)?;
    let result = if exists {
        SqlCipherInventory::open(&path, &passphrase)
    } else {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                Failure::new(exit::USAGE, format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        SqlCipherInventory::create(&path, &passphrase)
    };
    result.map_err(inventory_failure)
}

fn inventory_failure(error: InventoryError) -> Failure {
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
