//! One adapter as the objects under it see it (the central's side of every link): its path and address, and
//! what the world shares between adapters: the object manager, the bond records and the pairing agents.

use super::agent::Agents;
use super::bonds::Bonds;
use super::objects::ObjectManager;

/// The central side of the objects under one adapter.
#[derive(Debug, Clone)]
pub struct Host {
    /// `/org/bluez/hciN`.
    pub path: String,
    /// The adapter's address.
    pub address: String,
    pub objects: ObjectManager,
    pub bonds: Bonds,
    pub agents: Agents,
    /// The radio parameters of every link (connection interval, PDUs per event, MTU).
    pub radio: super::radio::RadioParams,
    /// The world's planned link fault (`--drop-after`), shared by every link.
    pub faults: std::sync::Arc<super::link::Faults>,
}

impl Host {
    /// Whether this adapter holds a bond with the device at `device` (an address).
    pub fn bonded_with(&self, device: &str) -> bool {
        self.bonds.is_bonded(&self.address, device)
    }
}
