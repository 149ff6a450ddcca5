//! What the inventory and audit pages read. No page carries a credential except [`App::reveal`], which is audited
//! before it returns.

use temper_core::inventory::{Clock, Inventory, SystemClock};

use crate::app::App;
use crate::error::{ApiError, ErrorCode};
use crate::views::{self, AuditPage, AuditRow, DevicePage, InventoryRow, RevealedCredential};

impl App {
    fn max_age(&self, profile_id: &str) -> Option<u32> {
        let settings = self.settings();
        self.profiles
            .iter()
            .find(|p| p.id == profile_id)
            .and_then(|p| settings.apply(p).ok())
            .and_then(|p| p.password_policy.max_age_days())
    }

    /// The inventory table, filtered by `query` (model, serial, site, state, firmware; case-insensitive).
    pub fn inventory_rows(&self, query: Option<&str>) -> Result<Vec<InventoryRow>, ApiError> {
        let inventory = self.session.inventory()?;
        let now = SystemClock.now();
        let needle = query.unwrap_or("").trim().to_lowercase();
        let mut rows = Vec::new();
        for device in inventory.devices()? {
            let haystack = format!(
                "{} {} {} {} {}",
                device.model,
                device.serial,
                device.site.as_deref().unwrap_or(""),
                device.state.as_str(),
                device.firmware
            )
            .to_lowercase();
            if !needle.is_empty() && !haystack.contains(&needle) {
                continue;
            }
            let credentials = inventory.credentials(&device.serial)?;
            let certs = inventory.device_certs(&device.serial)?;
            rows.push(views::row(
                &device,
                &credentials,
                &certs,
                self.max_age(&device.profile_id),
                now,
            ));
        }
        Ok(rows)
    }

    /// A device's page.
    pub fn device_page(&self, serial: &str) -> Result<DevicePage, ApiError> {
        let inventory = self.session.inventory()?;
        views::device_page(&inventory, serial, |id| self.max_age(id), SystemClock.now())?
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::NotFound,
                    format!("No device {serial} in the inventory."),
                )
            })
    }

    /// The device's current credentials, for the person who pressed "Reveal" (audited before returning).
    pub fn reveal(&self, serial: &str) -> Result<Vec<RevealedCredential>, ApiError> {
        let mut inventory = self.session.inventory()?;
        let records = inventory.reveal(serial)?;
        Ok(records
            .into_iter()
            .filter_map(|r| {
                r.current.map(|secret| RevealedCredential {
                    store: r.store,
                    username: r.username,
                    password: secret.expose().to_string(),
                })
            })
            .collect())
    }

    /// The audit page: every event and the chain's integrity.
    pub fn audit(&self) -> Result<AuditPage, ApiError> {
        let inventory = self.session.inventory()?;
        let events = inventory
            .audit_events(None)?
            .iter()
            .map(AuditRow::from)
            .collect();
        let (intact, problem) = match inventory.verify_audit() {
            Ok(_) => (true, None),
            Err(e) => (false, Some(e.to_string())),
        };
        Ok(AuditPage {
            events,
            intact,
            problem,
        })
    }
}
