//! One inventory connection shared by the app's views and by several commissioning runs at once.
//!
//! A plan holds `&mut dyn Inventory` for its whole run (minutes). [`SharedInventory`] is that `&mut` for each
//! run while the lock on the one SQLCipher connection is taken per call, so the installer's parallel runs
//! and the inventory page interleave instead of queueing behind each other. Every call is as durable as on
//! the connection itself (each write is its own transaction), and the audit chain stays linear because
//! there is only one writer connection.

use std::sync::{Arc, Mutex, MutexGuard};

use temper_core::checks::CheckRecord;
use temper_core::inventory::audit::{AuditEvent, NewAuditEvent, VerifiedTrail};
use temper_core::inventory::{
    CredentialRecord, DeviceCertRecord, DeviceRecord, Inventory, InventoryError,
    SqlCipherInventory, StationCaRecord, StepRecord, StepState,
};
use temper_core::Secret;

/// A clonable handle to the unlocked inventory.
#[derive(Clone)]
pub struct SharedInventory {
    inner: Arc<Mutex<SqlCipherInventory>>,
    actor: String,
}

impl std::fmt::Debug for SharedInventory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedInventory")
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

impl SharedInventory {
    /// Shares `inventory`.
    pub fn new(inventory: SqlCipherInventory) -> Self {
        let actor = inventory.actor().to_string();
        SharedInventory {
            inner: Arc::new(Mutex::new(inventory)),
            actor,
        }
    }

    /// The connection, for calls outside the [`Inventory`] trait (backups, the key header).
    pub fn lock(&self) -> MutexGuard<'_, SqlCipherInventory> {
        // A panic while holding the lock leaves the connection usable: each call is its own transaction.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// True while another handle (a running job) still uses the connection.
    pub fn in_use(&self) -> bool {
        Arc::strong_count(&self.inner) > 1
    }
}

impl Inventory for SharedInventory {
    fn upsert_device(&mut self, device: &DeviceRecord) -> Result<(), InventoryError> {
        self.lock().upsert_device(device)
    }
    fn device(&self, serial: &str) -> Result<Option<DeviceRecord>, InventoryError> {
        self.lock().device(serial)
    }
    fn devices(&self) -> Result<Vec<DeviceRecord>, InventoryError> {
        self.lock().devices()
    }
    fn put_pending(
        &mut self,
        serial: &str,
        store: &str,
        username: &str,
        secret: &Secret,
    ) -> Result<(), InventoryError> {
        self.lock().put_pending(serial, store, username, secret)
    }
    fn activate_pending(&mut self, serial: &str, store: &str) -> Result<(), InventoryError> {
        self.lock().activate_pending(serial, store)
    }
    fn credentials(&self, serial: &str) -> Result<Vec<CredentialRecord>, InventoryError> {
        self.lock().credentials(serial)
    }
    fn set_step(
        &mut self,
        serial: &str,
        step: &str,
        state: &StepState,
    ) -> Result<(), InventoryError> {
        self.lock().set_step(serial, step, state)
    }
    fn steps(&self, serial: &str) -> Result<Vec<StepRecord>, InventoryError> {
        self.lock().steps(serial)
    }
    fn put_check(
        &mut self,
        serial: &str,
        phase: &str,
        check: &CheckRecord,
    ) -> Result<(), InventoryError> {
        self.lock().put_check(serial, phase, check)
    }
    fn checks(&self, serial: &str) -> Result<Vec<(String, CheckRecord)>, InventoryError> {
        self.lock().checks(serial)
    }
    fn put_document(
        &mut self,
        serial: &str,
        name: &str,
        value: &serde_json::Value,
    ) -> Result<(), InventoryError> {
        self.lock().put_document(serial, name, value)
    }
    fn document(
        &self,
        serial: &str,
        name: &str,
    ) -> Result<Option<serde_json::Value>, InventoryError> {
        self.lock().document(serial, name)
    }
    fn actor(&self) -> &str {
        &self.actor
    }
    fn record_event(&mut self, event: &NewAuditEvent) -> Result<(), InventoryError> {
        self.lock().record_event(event)
    }
    fn audit_events(&self, device: Option<&str>) -> Result<Vec<AuditEvent>, InventoryError> {
        self.lock().audit_events(device)
    }
    fn verify_audit(&self) -> Result<VerifiedTrail, InventoryError> {
        self.lock().verify_audit()
    }
    fn reveal(&mut self, serial: &str) -> Result<Vec<CredentialRecord>, InventoryError> {
        self.lock().reveal(serial)
    }
    fn put_station_ca(&mut self, ca: &StationCaRecord) -> Result<(), InventoryError> {
        self.lock().put_station_ca(ca)
    }
    fn station_ca(&self) -> Result<Option<StationCaRecord>, InventoryError> {
        self.lock().station_ca()
    }
    fn put_device_cert(
        &mut self,
        serial: &str,
        cert: &DeviceCertRecord,
    ) -> Result<(), InventoryError> {
        self.lock().put_device_cert(serial, cert)
    }
    fn device_certs(&self, serial: &str) -> Result<Vec<DeviceCertRecord>, InventoryError> {
        self.lock().device_certs(serial)
    }
}
