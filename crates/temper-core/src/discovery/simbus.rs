//! The simulated USB bus: simulators announce themselves as files in a directory, discovery reads them.
//!
//! Each simulator writes `<dir>/<serial>.json` (an [`Announcement`]) atomically (a hidden temporary file, then
//! a rename) when it starts, and removes it when it stops ([`AnnouncementGuard`]'s drop). A simulator killed
//! with SIGKILL leaves its file behind: [`SimulatedUsbBus::scan`] skips a file whose port is gone or whose
//! process is gone (or a zombie), and removes it best effort. A power cycle re-announces under the same name.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::{AttachedDevice, DeviceSource, DiscoveryError, Source, Transport, UsbIdentity};

/// The environment variable that overrides [`SimulatedUsbBus::default_dir`].
pub const SIM_BUS_ENV: &str = "TEMPER_SIM_BUS";

/// What a simulator writes about itself on the bus (JSON, kebab-case names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Announcement {
    /// The PTY path the host opens.
    pub port: String,
    /// The USB vendor id the simulated bridge reports.
    pub vid: u16,
    /// The USB product id.
    pub pid: u16,
    /// The USB serial string (the simulated device's serial number); also the file name.
    pub serial: String,
    /// The USB manufacturer string.
    #[serde(default)]
    pub manufacturer: Option<String>,
    /// The USB product string.
    #[serde(default)]
    pub product: Option<String>,
    /// The simulator's process id (a file whose process is gone is stale).
    pub pid_of_process: u32,
}

/// Devices announced by simulators in `dir`. A missing directory means nothing is announced.
#[derive(Debug)]
pub struct SimulatedUsbBus {
    /// The bus directory.
    pub dir: PathBuf,
    /// Garbage files already warned about (a watcher scans every 250 ms).
    warned: Mutex<HashSet<PathBuf>>,
}

impl SimulatedUsbBus {
    /// The bus in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SimulatedUsbBus {
            dir: dir.into(),
            warned: Mutex::new(HashSet::new()),
        }
    }

    /// `$TEMPER_SIM_BUS` if set and not empty, else `$XDG_RUNTIME_DIR/temper/sim-usb`, else
    /// `<temp dir>/temper-sim-usb-<uid>`.
    pub fn default_dir() -> PathBuf {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(dir) = var(SIM_BUS_ENV) {
            return dir.into();
        }
        if let Some(runtime) = var("XDG_RUNTIME_DIR") {
            return PathBuf::from(runtime).join("temper/sim-usb");
        }
        use std::os::unix::fs::MetadataExt;
        let uid = std::fs::metadata("/proc/self").map_or_else(
            |_| std::env::var("USER").unwrap_or_else(|_| "user".into()),
            |m| m.uid().to_string(),
        );
        std::env::temp_dir().join(format!("temper-sim-usb-{uid}"))
    }

    fn read(&self, path: &Path) -> Option<Announcement> {
        let text = std::fs::read_to_string(path).ok()?;
        match serde_json::from_str::<Announcement>(&text) {
            Ok(announcement) => Some(announcement),
            Err(e) => {
                let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
                if warned.insert(path.to_path_buf()) {
                    tracing::warn!(file = %path.display(), error = %e, "not a simulator announcement; ignored");
                }
                None
            }
        }
    }
}

impl DeviceSource for SimulatedUsbBus {
    fn name(&self) -> &'static str {
        "simulated-usb-bus"
    }

    fn scan(&self) -> Result<Vec<AttachedDevice>, DiscoveryError> {
        let unreadable = |error| {
            DiscoveryError::Unreadable {
            path: self.dir.clone(),
            error,
            help: "make the simulated USB bus directory readable, or choose another with TEMPER_SIM_BUS",
        }
        };
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(unreadable(e)),
        };
        let mut found = Vec::new();
        for entry in entries {
            let path = entry.map_err(unreadable)?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            if name.is_none_or(|n| n.starts_with('.') || !n.ends_with(".json")) {
                continue;
            }
            let Some(announcement) = self.read(&path) else {
                continue;
            };
            if !is_live(&announcement) {
                remove_if_unchanged(&path, &announcement);
                continue;
            }
            found.push(attached(announcement));
        }
        found.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(found)
    }
}

fn attached(a: Announcement) -> AttachedDevice {
    AttachedDevice {
        id: format!("sim:{}", a.serial),
        transport: Transport::Serial { port: a.port },
        usb: Some(UsbIdentity {
            vid: a.vid,
            pid: a.pid,
            serial: Some(a.serial),
            manufacturer: a.manufacturer,
            product: a.product,
        }),
        source: Source::Simulated,
        simulator_pid: Some(a.pid_of_process),
    }
}

/// The port exists and the process runs (not a zombie). Without procfs, the process is assumed alive.
fn is_live(a: &Announcement) -> bool {
    if !Path::new(&a.port).exists() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{}/stat", a.pid_of_process)) {
        Ok(stat) => {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !(state.starts_with('Z') || state.starts_with('X'))
        }
        Err(_) => !Path::new("/proc/self").exists(),
    }
}

/// Removes a stale file, unless a restarted simulator has just replaced it (re-read first: the window
/// between the re-read and the removal is a few microseconds).
fn remove_if_unchanged(path: &Path, stale: &Announcement) {
    let now = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<Announcement>(&t).ok());
    if now.as_ref() == Some(stale) {
        match std::fs::remove_file(path) {
            Ok(()) => tracing::debug!(file = %path.display(), "removed a stale announcement"),
            Err(e) => {
                tracing::debug!(file = %path.display(), error = %e, "cannot remove a stale announcement")
            }
        }
    }
}

/// Withdraws an announcement when dropped (only if the file is still this process's).
#[derive(Debug)]
#[must_use = "dropping the guard withdraws the announcement"]
pub struct AnnouncementGuard {
    path: PathBuf,
    pid_of_process: u32,
}

impl AnnouncementGuard {
    /// The announcement file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for AnnouncementGuard {
    fn drop(&mut self) {
        let ours = std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|t| serde_json::from_str::<Announcement>(&t).ok())
            .is_some_and(|a| a.pid_of_process == self.pid_of_process);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Announces a simulated device on the bus in `dir` (created owner-only if missing): writes
/// `<dir>/<serial>.json` atomically. Keep the guard for as long as the device is plugged in.
pub fn announce(
    dir: &Path,
    announcement: &Announcement,
) -> Result<AnnouncementGuard, DiscoveryError> {
    let serial = &announcement.serial;
    if serial.is_empty() || serial.starts_with('.') || serial.contains(['/', '\0']) {
        return Err(DiscoveryError::BadSerial {
            serial: serial.clone(),
        });
    }
    let failed = |error| DiscoveryError::Announce {
        path: dir.to_path_buf(),
        error,
    };
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(failed)?;
    let path = dir.join(format!("{serial}.json"));
    let tmp = dir.join(format!(".{serial}.json.{}.tmp", std::process::id()));
    let text = serde_json::to_string(announcement).map_err(|e| failed(e.into()))?;
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            failed(e)
        })?;
    Ok(AnnouncementGuard {
        path,
        pid_of_process: announcement.pid_of_process,
    })
}
