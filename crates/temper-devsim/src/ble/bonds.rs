//! The adapters' side of the bonds: per adapter (by its address), the addresses of the devices bonded with
//! it, in `DIR/bonds.json` (atomic replace), as BlueZ keeps its link keys under `/var/lib/bluetooth`. A world
//! started again with the same directory knows its bonds: those devices are `Paired` and `Bonded` at once.
//! The peripheral's side of a bond is in its firmware's state ([`crate::zephyr::ZephyrState::bonds`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::state::save_named_json_atomically;
use crate::SimError;

/// The file in the world's directory.
pub const BONDS_FILE: &str = "bonds.json";

/// Adapter address → bonded device addresses.
type Table = BTreeMap<String, BTreeSet<String>>;

/// The bond records of every adapter of the world, shared by its objects.
#[derive(Debug, Clone)]
pub struct Bonds {
    dir: PathBuf,
    table: Arc<Mutex<Table>>,
}

impl Bonds {
    /// Reads `DIR/bonds.json` (none yet: no bonds).
    pub fn load(dir: &Path) -> Result<Bonds, SimError> {
        let path = dir.join(BONDS_FILE);
        let table = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|source| SimError::CorruptState { path, source })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Table::new(),
            Err(e) => return Err(SimError::io(path.display().to_string(), e)),
        };
        Ok(Bonds {
            dir: dir.to_path_buf(),
            table: Arc::new(Mutex::new(table)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the adapter at `adapter` holds a bond with `device`.
    pub fn is_bonded(&self, adapter: &str, device: &str) -> bool {
        self.lock().get(adapter).is_some_and(|d| d.contains(device))
    }

    /// The devices bonded with `adapter`.
    pub fn of(&self, adapter: &str) -> Vec<String> {
        self.lock()
            .get(adapter)
            .map(|d| d.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Records a bond and persists it.
    pub fn add(&self, adapter: &str, device: &str) -> Result<(), SimError> {
        let mut table = self.lock();
        table
            .entry(adapter.to_string())
            .or_default()
            .insert(device.to_string());
        save_named_json_atomically(&self.dir, BONDS_FILE, &*table)
    }

    /// Forgets a bond (no bond: nothing to do) and persists that.
    pub fn remove(&self, adapter: &str, device: &str) -> Result<(), SimError> {
        let mut table = self.lock();
        let removed = table.get_mut(adapter).is_some_and(|d| d.remove(device));
        if !removed {
            return Ok(());
        }
        save_named_json_atomically(&self.dir, BONDS_FILE, &*table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bonds_persist_per_adapter() {
        let dir = tempfile::tempdir().unwrap();
        let bonds = Bonds::load(dir.path()).unwrap();
        bonds.add("00:1A:7D:DA:71:13", "D4:5A:1E:00:00:10").unwrap();
        let again = Bonds::load(dir.path()).unwrap();
        assert!(again.is_bonded("00:1A:7D:DA:71:13", "D4:5A:1E:00:00:10"));
        assert!(!again.is_bonded("00:1A:7D:DA:71:14", "D4:5A:1E:00:00:10"));
        again
            .remove("00:1A:7D:DA:71:13", "D4:5A:1E:00:00:10")
            .unwrap();
        assert!(Bonds::load(dir.path())
            .unwrap()
            .of("00:1A:7D:DA:71:13")
            .is_empty());
    }
}
