//! Simvision SV-IPC2100: an embedded-Linux IP camera with a BusyBox console on its UART and
//! telnet, HTTP, HTTPS (rustls), RTSP and SSDP services on its (loopback) address. On request it
//! misbehaves in the ways listed in [`hostile`]. The same code simulates the SV-IPC3100
//! (`ipcam-pro`), which differs in name, firmware and its two certificate slots: see [`variant`].

pub mod admin;
pub mod boot;
pub mod certfmt;
pub mod certtool;
pub mod clock;
pub mod console;
pub mod hostile;
pub mod net;
pub mod shell;
pub mod slots;
pub mod tls;
pub mod variant;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use rustls::server::ServerConfig;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::eventlog::EventLog;
use crate::state::{Credential, DeviceState, HttpMode, StateStore};
use crate::transcript::Transcript;
use crate::{pty, ReadyInfo, SimError, SimOptions};

/// Model and firmware of `ipcam`; `ipcam-pro` has its own ([`Device::variant`]).
pub const MODEL: &str = "SV-IPC2100";
pub const FIRMWARE: &str = "4.2.7";
pub const HOSTNAME: &str = "ipcam";
pub const HTTP_REALM: &str = "SV-IPC2100";
pub const RTSP_REALM: &str = "SV-IPC2100 RTSP";
pub const WEB_USER: &str = "admin";
pub const RTSP_USER: &str = "admin";

/// Factory defaults: (store id, user, password).
pub const FACTORY_SHELL: &[(&str, &str, &str)] = &[
    ("shell-root", "root", "xmhdipc"),
    ("shell-support", "support", "support"),
];
pub const FACTORY_WEB: (&str, &str, &str) = ("web-admin", WEB_USER, "admin");
pub const FACTORY_RTSP: (&str, &str, &str) = ("rtsp-admin", RTSP_USER, "12345");

/// The network services of the camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Telnet,
    Http,
    /// TLS web admin (`httpsd`, rustls) on 443.
    Https,
    Rtsp,
    Ssdp,
}

impl Service {
    /// Every service, in boot order.
    pub const ALL: [Service; 5] = [
        Service::Telnet,
        Service::Http,
        Service::Https,
        Service::Rtsp,
        Service::Ssdp,
    ];

    /// Id used in state and events (matches the provisioning profile).
    pub fn id(self) -> &'static str {
        match self {
            Service::Telnet => "telnet",
            Service::Http => "http",
            Service::Https => "https",
            Service::Rtsp => "rtsp",
            Service::Ssdp => "ssdp",
        }
    }

    /// Name of the daemon / init script.
    pub fn daemon(self) -> &'static str {
        match self {
            Service::Telnet => "telnetd",
            Service::Http => "httpd",
            Service::Https => "httpsd",
            Service::Rtsp => "rtspd",
            Service::Ssdp => "ssdpd",
        }
    }

    pub fn port(self) -> u16 {
        match self {
            Service::Telnet => 23,
            Service::Http => 80,
            Service::Https => 443,
            Service::Rtsp => 554,
            Service::Ssdp => 1900,
        }
    }

    pub fn from_daemon(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.daemon() == name)
    }
}

/// Requests to the console task from elsewhere (e.g. `reboot` typed over telnet).
#[derive(Debug)]
pub enum ConsoleCtl {
    Reboot,
}

/// The shared device: state, event log, running services.
pub struct Device {
    pub opts: SimOptions,
    pub ip: Ipv4Addr,
    pub events: EventLog,
    /// Console transcript, when one was asked for.
    pub transcript: Option<Transcript>,
    store: StateStore,
    state: Mutex<DeviceState>,
    services: tokio::sync::Mutex<HashMap<Service, JoinHandle<()>>>,
    booted_at: Mutex<Instant>,
    nonces: crate::wire::digest::Nonces,
    opaque: String,
    /// Wall clock set with `date -s` in this boot: (unix seconds set, when). `None`: no RTC, the clock
    /// is 1970-01-01T00:00:00Z plus the uptime.
    clock: Mutex<Option<(i64, Instant)>>,
    /// SHA-256 fingerprint of the leaf httpsd serves now and the configuration new handshakes get
    /// (`None` while it is stopped).
    serving: Mutex<Option<(String, Arc<ServerConfig>)>>,
    console_ctl: mpsc::UnboundedSender<ConsoleCtl>,
}

impl Device {
    pub fn serial(&self) -> String {
        self.state.lock().expect("state lock").serial.clone()
    }

    pub fn with_state<R>(&self, f: impl FnOnce(&DeviceState) -> R) -> R {
        f(&self.state.lock().expect("state lock"))
    }

    /// Apply a change and persist it atomically before returning (callers print success after).
    pub fn update_state(&self, f: impl FnOnce(&mut DeviceState)) -> Result<(), SimError> {
        let mut guard = self.state.lock().expect("state lock");
        let mut next = guard.clone();
        f(&mut next);
        next.event_seq = self.events.seq();
        self.store.save(&next)?;
        *guard = next;
        Ok(())
    }

    pub fn uptime(&self) -> Duration {
        self.booted_at.lock().expect("boot lock").elapsed()
    }

    /// The kernel starts counting when U-Boot hands over.
    pub fn reset_uptime(&self) {
        *self.booted_at.lock().expect("boot lock") = Instant::now();
    }

    /// A kernel log line stamped with the uptime, without line ending.
    pub fn kernel_line(&self, msg: &str) -> String {
        let up = self.uptime();
        format!("[{:5}.{:06}] {msg}", up.as_secs(), up.subsec_micros())
    }

    /// BOOTID.UPNP.ORG: fixed per boot, 31 bits.
    pub fn boot_id(&self) -> u64 {
        self.with_state(|s| s.boot_count) & 0x7fff_ffff
    }

    pub fn uuid(&self) -> String {
        let h = crate::state::sha256_hex(&format!("ipcam-uuid:{}", self.serial()));
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }

    /// Shell login check: the account has a store, is not locked, and the password matches.
    pub fn check_shell_login(&self, user: &str, password: &str) -> bool {
        self.with_state(|s| {
            !s.locked.contains(user)
                && s.credentials
                    .get(&format!("shell-{user}"))
                    .is_some_and(|c| c.verify(password))
        })
    }

    pub fn credential(&self, store: &str) -> Option<Credential> {
        self.with_state(|s| s.credentials.get(store).cloned())
    }

    pub fn issue_nonce(&self) -> String {
        self.nonces.issue()
    }

    pub fn nonce_known(&self, nonce: &str) -> bool {
        self.nonces.known(nonce)
    }

    pub fn opaque(&self) -> &str {
        &self.opaque
    }

    /// The device clock in Unix seconds.
    pub fn now_unix(&self) -> i64 {
        match *self.clock.lock().expect("clock lock") {
            Some((set, at)) => set.saturating_add(at.elapsed().as_secs() as i64),
            None => self.uptime().as_secs() as i64,
        }
    }

    /// `date -s`: until the next boot the clock runs from `unix`.
    pub fn set_clock(&self, unix: i64) {
        *self.clock.lock().expect("clock lock") = Some((unix, Instant::now()));
    }

    pub fn http_mode(&self) -> HttpMode {
        self.with_state(|s| s.http_mode)
    }

    /// Fingerprint of the certificate httpsd serves now.
    pub fn serving_fingerprint(&self) -> Option<String> {
        let serving = self.serving.lock().expect("serving lock");
        serving.as_ref().map(|(fp, _)| fp.clone())
    }

    /// The TLS configuration httpsd hands to a new connection.
    pub(crate) fn serving_config(&self) -> Option<Arc<ServerConfig>> {
        let serving = self.serving.lock().expect("serving lock");
        serving.as_ref().map(|(_, config)| config.clone())
    }

    pub(crate) fn set_serving(&self, serving: Option<(String, Arc<ServerConfig>)>) {
        *self.serving.lock().expect("serving lock") = serving;
    }

    pub fn request_reboot(&self) {
        let _ = self.console_ctl.send(ConsoleCtl::Reboot);
    }

    pub async fn is_running(&self, svc: Service) -> bool {
        self.services
            .lock()
            .await
            .get(&svc)
            .is_some_and(|h| !h.is_finished())
    }

    pub fn is_enabled(&self, svc: Service) -> bool {
        self.with_state(|s| s.services.get(svc.id()).copied().unwrap_or(true))
    }

    /// Bind and start a service; Ok(false) when it was already running.
    pub async fn start_service(self: &Arc<Self>, svc: Service) -> Result<bool, SimError> {
        let mut map = self.services.lock().await;
        if map.get(&svc).is_some_and(|h| !h.is_finished()) {
            return Ok(false);
        }
        let handle = net::spawn(self.clone(), svc)?;
        map.insert(svc, handle);
        Ok(true)
    }

    /// Stop a service now: the listening socket is closed and its connections are dropped before
    /// this returns. Ok(false) when it was not running.
    pub async fn stop_service(&self, svc: Service) -> bool {
        let handle = self.services.lock().await.remove(&svc);
        match handle {
            Some(h) if !h.is_finished() => {
                h.abort();
                let _ = h.await;
                if svc == Service::Https {
                    self.set_serving(None);
                }
                true
            }
            _ => false,
        }
    }

    pub async fn stop_all(&self) {
        for svc in Service::ALL {
            self.stop_service(svc).await;
        }
    }

    /// Called by the console task at the start of each boot.
    fn mark_boot(&self, reason: &str) -> Result<u64, SimError> {
        *self.booted_at.lock().expect("boot lock") = Instant::now();
        // No RTC: the clock set in the previous boot is gone.
        *self.clock.lock().expect("clock lock") = None;
        self.update_state(|s| s.boot_count += 1)?;
        let count = self.with_state(|s| s.boot_count);
        self.events
            .log("boot", json!({"boot_count": count, "reason": reason}));
        Ok(count)
    }
}

/// Fill in factory defaults for anything missing in the state.
fn apply_factory_defaults(s: &mut DeviceState) {
    for (store, _user, pw) in FACTORY_SHELL {
        s.credentials
            .entry(store.to_string())
            .or_insert_with(|| Credential::salted(pw));
    }
    let (store, user, pw) = FACTORY_WEB;
    s.credentials
        .entry(store.to_string())
        .or_insert_with(|| Credential::digest(user, HTTP_REALM, pw));
    let (store, user, pw) = FACTORY_RTSP;
    s.credentials
        .entry(store.to_string())
        .or_insert_with(|| Credential::digest(user, RTSP_REALM, pw));
    for svc in Service::ALL {
        s.services.entry(svc.id().to_string()).or_insert(true);
    }
}

/// Start an ipcam (or ipcam-pro): state, PTY, console task (which boots and starts the services).
pub(crate) async fn start(
    opts: SimOptions,
) -> Result<(ReadyInfo, Box<dyn std::any::Any + Send + Sync>), SimError> {
    let model = opts.model.id();
    let store = StateStore::new(&opts.state_dir)?;
    let mut state = match store.load()? {
        Some(s) if s.model != model => {
            return Err(SimError::WrongModel {
                path: store.path(),
                found: s.model,
                expected: model.into(),
            })
        }
        Some(s) => s,
        None => DeviceState::new(model),
    };
    apply_factory_defaults(&mut state);
    let events = EventLog::open(store.dir(), state.event_seq)?;
    let ip = opts.ip.unwrap_or_else(|| crate::default_ip(&state.serial));
    let transcript = match &opts.transcript {
        Some(path) => Some(Transcript::open(path)?),
        None => None,
    };

    // A re-plugged device shows up under a new port name: never reuse the previous path.
    let mut pty = pty::open(opts.baud)?;
    if state.last_port.as_deref() == Some(pty.path.as_str()) {
        let other = pty::open(opts.baud)?;
        pty = other;
    }
    state.last_port = Some(pty.path.clone());
    store.save(&state)?;
    let (writer, input) = pty::spawn_paced_io(&pty, opts.baud)?;
    let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
    let info = ReadyInfo {
        port: pty.path.clone(),
        model: model.into(),
        serial: state.serial.clone(),
        ip: ip.to_string(),
    };
    let dev = Arc::new(Device {
        opts,
        ip,
        events,
        transcript,
        store,
        state: Mutex::new(state),
        services: tokio::sync::Mutex::new(HashMap::new()),
        booted_at: Mutex::new(Instant::now()),
        nonces: Default::default(),
        opaque: hex::encode(rand::thread_rng().gen::<[u8; 12]>()),
        clock: Mutex::new(None),
        serving: Mutex::new(None),
        console_ctl: ctl_tx,
    });
    tokio::spawn(boot::run(dev.clone(), writer, input, ctl_rx));
    // Keep both PTY fds open for the life of the simulator.
    Ok((info, Box::new((pty, dev))))
}
