//! [`App`]: what the desktop app's commands call.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use temper_core::discovery::{BleSource, BleStatusHandle, Discovery, SimulatedUsbBus, Watcher};
use temper_core::inventory::default_actor;
use temper_core::profile::{self as profiles, Profile};
use temper_core::Secret;
use ts_rs::TS;

use crate::devices::{BluetoothView, DeviceList, DeviceView};
use crate::error::{ApiError, ErrorCode};
use crate::jobs::Jobs;
use crate::session::{passphrase_strength, LockStatus, Session, Strength, Unlock};
use crate::settings::Settings;
use crate::simulator::Simulators;

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
    /// True when discovery also listens for Bluetooth LE devices (BlueZ on the D-Bus system bus,
    /// `DBUS_SYSTEM_BUS_ADDRESS` honoured).
    pub bluetooth: bool,
}

impl AppConfig {
    /// Defaults from the environment: `TEMPER_INVENTORY`, `TEMPER_PROFILES`, `TEMPER_SIM_BUS`,
    /// `TEMPER_DEVSIM`, `TEMPER_REPORTS`, `XDG_DATA_HOME`, `HOME`; `TEMPER_NO_BLE` turns Bluetooth off.
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
            bluetooth: std::env::var_os("TEMPER_NO_BLE").is_none(),
        }
    }
}

#[cfg(test)]
impl AppConfig {
    /// Everything under `dir` (the inventory at `dir/<inventory>`), the shipped profiles, no simulators.
    pub(crate) fn for_test(dir: &Path, inventory: &str) -> AppConfig {
        AppConfig {
            inventory: dir.join(inventory),
            profiles_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../provisioning-profiles"),
            sim_bus: dir.join("bus"),
            devsim: dir.join("no-devsim"),
            reports_dir: dir.join("reports"),
            simulators_dir: dir.join("sims"),
            settings_file: dir.join("settings.json"),
            actor: "test".into(),
            simulator_allowed: false,
            bluetooth: false,
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
    pub(crate) config: AppConfig,
    pub(crate) profiles: Vec<Profile>,
    settings: Mutex<Settings>,
    /// The inventory's lock state.
    pub session: Session,
    pub(crate) devices: DeviceList,
    pub(crate) jobs: Jobs,
    simulators: Simulators,
    watcher: Mutex<Option<Watcher>>,
    bluetooth: Mutex<Option<BleStatusHandle>>,
    bluetooth_watch: Mutex<Option<BluetoothWatch>>,
}

/// Polls the Bluetooth state and reports each change; stops (and joins) when dropped.
struct BluetoothWatch {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for BluetoothWatch {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
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
            bluetooth: Mutex::new(None),
            bluetooth_watch: Mutex::new(None),
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

    /// Starts watching for devices (USB, the simulated bus and, unless [`AppConfig::bluetooth`] is false,
    /// Bluetooth LE); `on_change` gets the list after every plug and unplug, and every BLE device heard or
    /// gone.
    pub fn start_discovery(
        &self,
        on_change: Arc<dyn Fn(Vec<DeviceView>) + Send + Sync>,
    ) -> Result<(), ApiError> {
        let mut discovery = Discovery::standard(&self.config.sim_bus);
        if self.config.bluetooth {
            let source = BleSource::start(&self.profiles)
                .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
            *self.bluetooth.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(source.status_handle());
            discovery.sources.push(Box::new(source));
        }
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

    /// The Bluetooth adapter's state (`disabled` when Temper runs without Bluetooth, `starting` until
    /// discovery has looked once).
    pub fn bluetooth(&self) -> BluetoothView {
        if !self.config.bluetooth {
            return BluetoothView::disabled();
        }
        match &*self.bluetooth.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(handle) => BluetoothView::of(&handle.status()),
            None => BluetoothView::of(&temper_core::discovery::BleStatus::Starting),
        }
    }

    /// Reports every change of [`App::bluetooth`] to `on_change` (checked every 250 ms, on a thread of its
    /// own) until the app is dropped. Call after [`App::start_discovery`].
    pub fn watch_bluetooth(
        &self,
        on_change: Arc<dyn Fn(BluetoothView) + Send + Sync>,
    ) -> Result<(), ApiError> {
        let handle = self
            .bluetooth
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let Some(handle) = handle else {
            return Ok(());
        };
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("temper-bluetooth-state".into())
            .spawn(move || {
                let mut last: Option<BluetoothView> = None;
                loop {
                    let now = BluetoothView::of(&handle.status());
                    if last.as_ref() != Some(&now) {
                        on_change(now.clone());
                        last = Some(now);
                    }
                    match stopped.recv_timeout(Duration::from_millis(250)) {
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                }
            })
            .map_err(|e| {
                ApiError::new(ErrorCode::Internal, format!("cannot watch Bluetooth: {e}"))
            })?;
        *self
            .bluetooth_watch
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(BluetoothWatch {
            stop: Some(stop),
            thread: Some(thread),
        });
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::JobSink;
    use crate::session::SecretInput;
    use temper_core::inventory::{DeviceRecord, HardenedState, Inventory};

    fn app(dir: &Path) -> App {
        let config = AppConfig::for_test(dir, "inv.db");
        let app = App::new(config).expect("app");
        app.create_inventory(Unlock::Passphrase {
            passphrase: SecretInput(Secret::new("correct horse battery staple quarry")),
        })
        .expect("create");
        app
    }

    /// Guards the device page's actions when the device is not plugged in: a plain "plug it in" that names
    /// the device, and an unknown serial is "not found" (no job starts in either case).
    #[test]
    fn rotate_and_renew_need_the_known_device_plugged_in() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let sink: JobSink = Arc::new(|_| {});
        let unknown = app.rotate_now("NOPE", sink.clone()).unwrap_err();
        assert_eq!(unknown.code, ErrorCode::NotFound);
        assert!(unknown.message.contains("No device NOPE"), "{unknown:?}");

        let mut inventory = app.session.inventory().unwrap();
        inventory
            .upsert_device(&DeviceRecord {
                serial: "SV123".into(),
                model: "SV-IPC2100".into(),
                firmware: "1.0".into(),
                profile_id: "ipcam".into(),
                profile_hash: "0".repeat(64),
                site: None,
                address: None,
                state: HardenedState::Hardened,
                first_seen: 1,
                updated_at: 1,
            })
            .unwrap();
        drop(inventory);
        let rotate = app.rotate_now("SV123", sink.clone()).unwrap_err();
        assert_eq!(rotate.code, ErrorCode::NotFound);
        assert!(
            rotate.message.starts_with("Plug the device in (SV123)")
                && rotate.message.contains("rotate its passwords"),
            "{rotate:?}"
        );
        let renew = app.renew_certificate("SV123", sink).unwrap_err();
        assert_eq!(renew.code, ErrorCode::NotFound);
        assert!(renew.message.contains("renew its certificate"), "{renew:?}");
    }
}
