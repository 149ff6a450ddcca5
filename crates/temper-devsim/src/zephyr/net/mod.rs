//! Network services of the device on its own loopback address, and the way every transport reaches the SMP
//! server.
//!
//! Services ([`Kind`]): the HTTP admin on tcp/80 (always), the telnet shell on tcp/23 (while `net/telnet` is
//! "1") and SMP over UDP on udp/1337 (while `mcumgr/udp` is "1"), UPnP: SSDP on udp/1900 and the description
//! on tcp/49152 (both while `net/upnp` is "1"). A setting the variant does not have is off: the sensor runs
//! no UPnP, the plug no telnet and no SMP over UDP. Each runs as one task that owns its socket
//! (and its connections); a service turned off is aborted and awaited, so its port is closed (refused from
//! outside) by the time the commit's reply leaves. Events: `service {name, state: "up"|"down", port}`.
//!
//! Contract for the transports (console UART, UDP, and any other): hand each packet to [`answer`], never to
//! `Server::handle` directly; it runs a deferred `mqtt connect` and applies a settings commit
//! ([`settle`]) before the reply is sent. Boot: [`on_boot`].

pub mod http;
pub mod telnet;
pub mod udp;
pub mod upnp;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::json;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

use super::app::Deferred;
use super::settings::{Settings, MCUMGR_UDP, NET_TELNET, NET_UPNP};
use super::{lock, Shared};
use crate::wire::accept_loop;
use crate::SimError;

/// A network service of the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Http,
    Telnet,
    SmpUdp,
    /// SSDP (UPnP discovery).
    Ssdp,
    /// The UPnP description document.
    UpnpDescription,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Http,
        Kind::Telnet,
        Kind::SmpUdp,
        Kind::Ssdp,
        Kind::UpnpDescription,
    ];

    /// The `name` of its `service` events.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Http => "http",
            Kind::Telnet => "telnet",
            Kind::SmpUdp => "smp-udp",
            Kind::Ssdp => "ssdp",
            Kind::UpnpDescription => "upnp-description",
        }
    }

    pub fn port(self) -> u16 {
        match self {
            Kind::Http => 80,
            Kind::Telnet => 23,
            Kind::SmpUdp => 1337,
            Kind::Ssdp => 1900,
            Kind::UpnpDescription => upnp::DESCRIPTION_PORT,
        }
    }

    /// Whether the settings want it running.
    fn wanted(self, settings: &Settings) -> bool {
        match self {
            Kind::Http => true,
            Kind::Telnet => settings.is_on(NET_TELNET),
            Kind::SmpUdp => settings.is_on(MCUMGR_UDP),
            Kind::Ssdp | Kind::UpnpDescription => settings.is_on(NET_UPNP),
        }
    }

    /// Binds its socket now (a failure is reported) and spawns its task.
    fn start(self, shared: &Shared, ip: Ipv4Addr) -> Result<Running, SimError> {
        let addr = SocketAddr::from((ip, self.port()));
        let bind_err = |source| SimError::Bind {
            service: self.name().to_string(),
            addr: addr.to_string(),
            source,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let shared = shared.clone();
        let handle = if matches!(self, Kind::SmpUdp | Kind::Ssdp) {
            let sock = std::net::UdpSocket::bind(addr)
                .and_then(|s| s.set_nonblocking(true).map(|_| s))
                .and_then(UdpSocket::from_std)
                .map_err(bind_err)?;
            match self {
                Kind::SmpUdp => tokio::spawn(udp::serve(shared, sock, stop.clone())),
                _ => tokio::spawn(crate::wire::ssdp::serve(
                    Arc::new(upnp::Upnp { shared }),
                    sock,
                )),
            }
        } else {
            // std sets SO_REUSEADDR: a service turned on again rebinds at once.
            let listener = std::net::TcpListener::bind(addr)
                .and_then(|l| l.set_nonblocking(true).map(|_| l))
                .and_then(TcpListener::from_std)
                .map_err(bind_err)?;
            match self {
                Kind::Http => tokio::spawn(accept_loop(shared, listener, http::handle)),
                Kind::UpnpDescription => tokio::spawn(accept_loop(shared, listener, upnp::handle)),
                _ => tokio::spawn(accept_loop(shared, listener, telnet::handle)),
            }
        };
        Ok(Running {
            kind: self,
            handle,
            stop,
        })
    }
}

/// A service that runs.
pub(crate) struct Running {
    kind: Kind,
    handle: JoinHandle<()>,
    /// Set when it must end; read by the UDP task after each reply (it cannot await its own end).
    stop: Arc<AtomicBool>,
}

impl Running {
    /// Ends the service: its task is aborted and awaited (socket closed). Called from the service's own task
    /// (a commit that arrived over UDP turning UDP off), it only marks it: the task ends after its reply.
    async fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        if tokio::task::try_id() == Some(self.handle.id()) {
            return;
        }
        self.handle.abort();
        let _ = self.handle.await;
    }
}

/// The services that run, and the gate that makes boots and commits apply one at a time.
#[derive(Default)]
pub(crate) struct Services {
    running: Vec<Running>,
    gate: Arc<tokio::sync::Mutex<()>>,
}

impl Services {
    /// Whether `kind` runs now.
    pub(crate) fn is_running(&self, kind: Kind) -> bool {
        self.running.iter().any(|r| r.kind == kind)
    }
}

/// A boot (power-on or reset): RAM state reset, settings and credentials read from disk, clock at 1970, and the
/// services (re)started per the settings. Call it from a task of its own, not from a service's task.
pub(crate) async fn on_boot(shared: &Shared, ip: Ipv4Addr) -> Result<(), SimError> {
    let gate = lock(shared).app.services.gate.clone();
    let _one_at_a_time = gate.lock().await;
    let stopping = {
        let mut server = lock(shared);
        let dir = server.dir().to_path_buf();
        server.app.reboot(&dir, ip)?;
        std::mem::take(&mut server.app.services.running)
    };
    stop_all(shared, stopping).await;
    start_wanted(shared)
}

/// The device goes down (reset): every service stops.
pub(crate) async fn on_shutdown(shared: &Shared) {
    let gate = lock(shared).app.services.gate.clone();
    let _one_at_a_time = gate.lock().await;
    let stopping = std::mem::take(&mut lock(shared).app.services.running);
    stop_all(shared, stopping).await;
}

/// Applies a settings commit, if one is pending: the HTTP admin takes the password, services turned off stop
/// (awaited), services turned on start. Errors are logged (`service_error`), the device goes on.
pub(crate) async fn settle(shared: &Shared) {
    if !lock(shared).app.commit_pending {
        return;
    }
    let gate = lock(shared).app.services.gate.clone();
    let _one_at_a_time = gate.lock().await;
    let stopping = {
        let mut server = lock(shared);
        if !std::mem::take(&mut server.app.commit_pending) {
            return;
        }
        server.app.apply_password();
        let app = &mut server.app;
        let (keep, stop) = std::mem::take(&mut app.services.running)
            .into_iter()
            .partition(|r| r.kind.wanted(&app.settings));
        app.services.running = keep;
        stop
    };
    stop_all(shared, stopping).await;
    if let Err(e) = start_wanted(shared) {
        tracing::error!("{e}");
        lock(shared)
            .events
            .log("service_error", json!({"reason": e.to_string()}));
    }
}

async fn stop_all(shared: &Shared, stopping: Vec<Running>) {
    for running in stopping {
        let kind = running.kind;
        running.stop().await;
        lock(shared).events.log(
            "service",
            json!({"name": kind.name(), "state": "down", "port": kind.port()}),
        );
    }
}

/// Starts every wanted service that does not run.
fn start_wanted(shared: &Shared) -> Result<(), SimError> {
    let (ip, missing): (Ipv4Addr, Vec<Kind>) = {
        let server = lock(shared);
        let app = &server.app;
        let missing = Kind::ALL
            .into_iter()
            .filter(|k| k.wanted(&app.settings) && !app.services.is_running(*k))
            .collect();
        (app.ip, missing)
    };
    for kind in missing {
        let running = kind.start(shared, ip)?;
        let mut server = lock(shared);
        server.app.services.running.push(running);
        server.events.log(
            "service",
            json!({"name": kind.name(), "state": "up", "port": kind.port()}),
        );
    }
    Ok(())
}

/// Answers one SMP packet (one or more requests) from any transport: the server's replies, after running a
/// deferred `mqtt connect` (its placeholder reply replaced by the real one) and applying a settings commit.
/// Empty: dropped with no reply.
pub(crate) async fn answer(shared: &Shared, packet: &[u8]) -> Vec<Vec<u8>> {
    let (mut replies, deferred) = {
        let mut server = lock(shared);
        let replies = server.handle(packet);
        (replies, server.app.deferred.take())
    };
    if let Some(Deferred { header, job }) = deferred {
        let out = super::mqtt::connect(shared, job).await;
        let body = super::shell::exec_reply(&lock(shared), &out);
        let real = super::smp::reply(header, body);
        let placeholder = replies.iter_mut().find(|r| r.get(4..8) == real.get(4..8));
        match placeholder {
            Some(slot) => *slot = real,
            None => replies.push(real),
        }
    }
    settle(shared).await;
    replies
}
