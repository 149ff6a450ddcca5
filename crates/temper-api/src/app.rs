//! [`App`]: what the desktop app's commands call.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use temper_core::discovery::{Discovery, SimulatedUsbBus, Watcher};
use temper_core::inventory::{default_actor, Clock, Inventory, SystemClock};
use temper_core::profile::{self as profiles, Profile};
use temper_core::Secret;
use ts_rs::TS;

use crate::devices::{DeviceList, DeviceView};
use crate::error::{ApiError, ErrorCode};
use crate::jobs::{JobRequest, JobSink, Jobs};
use crate::session::{passphrase_strength, LockStatus, Session, Strength, Unlock};
use crate::settings::Settings;
use crate::simulator::Simulators;
use crate::views::{self, AuditPage, AuditRow, DevicePage, InventoryRow, RevealedCredential};

/// Where the app keeps things. [`AppConfig::from_env`] gives the defaults the CLI also uses.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// The inventory database (the CLI's default: `$XDG_DATA_HOME/temper/inventory.db`).
    pub inventory: PathBuf,
    /// The provisioning profiles.
    pub profiles_dir: PathBuf,
    /// The simulated USB bus discovery watches.
    pub sim_bus: PathBuf,
    /// The simulator binary.
    pub devsim: PathBuf,
    /// Where handover reports, exported CA certificates and backups go (shown to the person).
    pub reports_dir: PathBuf,
    /// Where simulators keep their state.
    pub simulators_dir: PathBuf,
    /// The settings file.
    pub settings_file: PathBuf,
    /// Who the audit trail names.
    pub actor: String,
    /// True when the window may plug in simulated devices.
    pub simulator_allowed: bool,
}

impl AppConfig {
    /// Defaults from the environment: `TEMPER_INVENTORY`, `TEMPER_PROFILES`, `TEMPER_SIM_BUS`,
    /// `TEMPER_DEVSIM`, `TEMPER_REPORTS`, `XDG_DATA_HOME`, `HOME`.
    pub fn from_env(exe: Option<&Path>) -> AppConfig {
        let data = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("."))
            .join("temper");
        let var = |name: &str| std::env::var_os(name).map(PathBuf::from);
        AppConfig {
            inventory: var("TEMPER_INVENTORY").unwrap_or_else(|| data.join("inventory.db")),
            profiles_dir: profiles::default_dir(),
            sim_bus: SimulatedUsbBus::default_dir(),
            devsim: Simulators::find_devsim(exe),
            reports_dir: var("TEMPER_REPORTS").unwrap_or_else(|| data.join("reports")),
            simulators_dir: data.join("simulators"),
            settings_file: data.join("settings.json"),
            actor: default_actor(),
            simulator_allowed: true,
        }
    }
}

/// Facts the window shows about the app.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    /// Temper's version.
    pub version: String,
    /// The inventory file.
    pub inventory: String,
    /// Where reports and exports are saved.
    pub reports_dir: String,
    /// True when "Try with a simulated device" is offered.
    pub simulator_allowed: bool,
}

/// A running app.
pub struct App {
    config: AppConfig,
    profiles: Vec<Profile>,
    settings: Mutex<Settings>,
    /// The inventory's lock state.
    pub session: Session,
    devices: DeviceList,
    jobs: Jobs,
    simulators: Simulators,
    watcher: Mutex<Option<Watcher>>,
}

impl App {
    /// Loads the profiles and settings (a broken one is an error naming the file).
    pub fn new(config: AppConfig) -> Result<App, ApiError> {
        let profiles = profiles::load_dir(&config.profiles_dir)
            .map_err(|e| ApiError::new(ErrorCode::Invalid, e.to_string()))?;
        let settings = Settings::load(&config.settings_file)?;
        let idle = Duration::from_secs(u64::from(settings.idle_lock_minutes) * 60);
        Ok(App {
            session: Session::new(config.inventory.clone(), config.actor.clone(), idle),
            simulators: Simulators::new(
                config.devsim.clone(),
                config.sim_bus.clone(),
                config.simulators_dir.clone(),
            ),
            profiles,
            settings: Mutex::new(settings),
            devices: DeviceList::default(),
            jobs: Jobs::default(),
            watcher: Mutex::new(None),
            config,
        })
    }

    /// Facts about the app.
    pub fn info(&self) -> AppInfo {
        AppInfo {
            version: env!("CARGO_PKG_VERSION").into(),
            inventory: self.config.inventory.display().to_string(),
            reports_dir: self.config.reports_dir.display().to_string(),
            simulator_allowed: self.config.simulator_allowed,
        }
    }

    /// Starts watching for devices; `on_change` gets the list after every plug and unplug.
    pub fn start_discovery(
        &self,
        on_change: Arc<dyn Fn(Vec<DeviceView>) + Send + Sync>,
    ) -> Result<(), ApiError> {
        let discovery = Discovery::standard(&self.config.sim_bus);
        let watcher = self
            .devices
            .watch(
                discovery,
                Watcher::DEFAULT_INTERVAL,
                self.profiles.clone(),
                on_change,
            )
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
        *self.watcher.lock().unwrap_or_else(|p| p.into_inner()) = Some(watcher);
        Ok(())
    }

    /// What is attached now.
    pub fn devices(&self) -> Vec<DeviceView> {
        self.devices.views(&self.profiles)
    }

    /// The inventory's lock state.
    pub fn lock_status(&self) -> LockStatus {
        self.session.status()
    }

    /// Scores a passphrase for the create screen.
    pub fn passphrase_strength(&self, passphrase: &Secret) -> Strength {
        passphrase_strength(passphrase)
    }

    /// Creates the inventory; returns the recovery key (shown once).
    pub fn create_inventory(&self, unlock: Unlock) -> Result<Secret, ApiError> {
        self.session.create(unlock)
    }

    /// Unlocks the inventory.
    pub fn unlock(&self, unlock: Unlock) -> Result<(), ApiError> {
        self.session.unlock(unlock)
    }

    /// Locks the inventory.
    pub fn lock(&self) {
        self.session.lock()
    }

    fn tightened_profiles(&self) -> Result<Vec<Profile>, ApiError> {
        let settings = self.settings();
        self.profiles.iter().map(|p| settings.apply(p)).collect()
    }

    fn max_age(&self, profile_id: &str) -> Option<u32> {
        let settings = self.settings();
        self.profiles
            .iter()
            .find(|p| p.id == profile_id)
            .and_then(|p| settings.apply(p).ok())
            .and_then(|p| p.password_policy.max_age_days())
    }

    /// Starts securing the attached device `device_id`; progress goes to `sink`. Returns the job id.
    pub fn secure(
        &self,
        device_id: &str,
        site: Option<String>,
        sink: JobSink,
    ) -> Result<u32, ApiError> {
        let inventory = self.session.inventory()?;
        let device = self.devices.get(device_id).ok_or_else(|| {
            ApiError::new(ErrorCode::NotFound, "That device is no longer plugged in.")
                .help("Plug it in again; it appears in the list within two seconds.")
        })?;
        let site = site.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let request = JobRequest {
            device,
            profiles: self.tightened_profiles()?,
            site,
            inventory,
        };
        self.jobs.start(request, sink)
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

    /// The settings.
    pub fn settings(&self) -> Settings {
        self.settings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Saves settings that only tighten every profile's policy.
    pub fn save_settings(&self, settings: Settings) -> Result<Settings, ApiError> {
        settings.save(&self.config.settings_file, &self.profiles)?;
        *self.settings.lock().unwrap_or_else(|p| p.into_inner()) = settings.clone();
        Ok(settings)
    }

    /// Plugs in a simulated device (if allowed).
    pub fn plug_simulator(&self, model: &str) -> Result<u32, ApiError> {
        if !self.config.simulator_allowed {
            return Err(ApiError::new(
                ErrorCode::Invalid,
                "Simulated devices are turned off in this installation.",
            ));
        }
        self.simulators.plug(model)
    }

    /// Unplugs a simulated device.
    pub fn unplug_simulator(&self, pid: u32) -> Result<(), ApiError> {
        self.simulators.unplug(pid)
    }

    /// Locks the inventory if it was idle long enough (the app calls this every few seconds).
    pub fn lock_if_idle(&self) -> bool {
        self.session.lock_if_idle(std::time::Instant::now())
    }

    /// The loaded profiles.
    pub fn profiles(&self) -> &[Profile] {
        &self.profiles
    }

    /// The reports folder (created).
    pub fn reports_dir(&self) -> Result<PathBuf, ApiError> {
        let dir = self.config.reports_dir.clone();
        std::fs::create_dir_all(&dir).map_err(|e| {
            ApiError::new(
                ErrorCode::Internal,
                format!("cannot create {}: {e}", dir.display()),
            )
        })?;
        Ok(dir)
    }
}
