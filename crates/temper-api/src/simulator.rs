//! "Try with a simulated device": plugs a simulated camera (temper-devsim on a real pseudo-terminal) into the
//! simulated USB bus that discovery watches, so a newcomer sees the real flow. Unplugging stops it; the
//! simulator withdraws from the bus as it exits. Every simulator still running stops with the app.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use crate::error::{ApiError, ErrorCode};

/// The simulated devices this app plugged in.
pub struct Simulators {
    devsim: PathBuf,
    bus: PathBuf,
    state_root: PathBuf,
    children: Mutex<Vec<(u32, Child)>>,
}

impl Simulators {
    /// Simulators run `devsim`, announce on `bus`, and keep their state under `state_root`.
    pub fn new(devsim: PathBuf, bus: PathBuf, state_root: PathBuf) -> Self {
        Simulators {
            devsim,
            bus,
            state_root,
            children: Mutex::new(Vec::new()),
        }
    }

    /// The simulator binary next to `exe` (the app), else `temper-devsim` on the PATH.
    pub fn find_devsim(exe: Option<&Path>) -> PathBuf {
        if let Ok(path) = std::env::var("TEMPER_DEVSIM") {
            return PathBuf::from(path);
        }
        match exe.and_then(Path::parent).map(|d| d.join("temper-devsim")) {
            Some(path) if path.exists() => path,
            _ => PathBuf::from("temper-devsim"),
        }
    }

    /// Plugs in a new simulated device of `model` (`ipcam` or `ipcam-pro`). Returns its process id.
    pub fn plug(&self, model: &str) -> Result<u32, ApiError> {
        if !matches!(model, "ipcam" | "ipcam-pro") {
            return Err(ApiError::new(
                ErrorCode::Invalid,
                format!("no simulator for {model:?}; choose ipcam or ipcam-pro"),
            ));
        }
        let mut children = self.children.lock().unwrap_or_else(|p| p.into_inner());
        let n = children.len() as u32 + 1;
        let state = self
            .state_root
            .join(format!("{model}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&state).map_err(|e| {
            ApiError::new(
                ErrorCode::Internal,
                format!("cannot create {}: {e}", state.display()),
            )
        })?;
        let ip = format!("127.0.{}.{}", 100 + (std::process::id() % 100), 10 + n);
        let child = Command::new(&self.devsim)
            .args(["run", "--model", model, "--ip", &ip, "--state"])
            .arg(&state)
            .arg("--usb-bus")
            .arg(&self.bus)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| {
                ApiError::new(ErrorCode::Internal, format!("cannot start the simulator {}: {e}", self.devsim.display()))
                    .help("Build it with `cargo build -p temper-devsim`, or set TEMPER_DEVSIM to its path.")
            })?;
        let pid = child.id();
        children.push((pid, child));
        Ok(pid)
    }

    /// Unplugs the simulator with this process id (it stops and withdraws from the bus).
    pub fn unplug(&self, pid: u32) -> Result<(), ApiError> {
        let mut children = self.children.lock().unwrap_or_else(|p| p.into_inner());
        let Some(index) = children.iter().position(|(p, _)| *p == pid) else {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("no simulated device {pid}"),
            ));
        };
        let (_, child) = children.remove(index);
        stop(child);
        Ok(())
    }
}

/// SIGTERM first so the simulator withdraws from the bus, then make sure it is gone.
fn stop(mut child: Child) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    for _ in 0..50 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Simulators {
    fn drop(&mut self) {
        let children = std::mem::take(self.children.get_mut().unwrap_or_else(|p| p.into_inner()));
        for (_, child) in children {
            stop(child);
        }
    }
}
