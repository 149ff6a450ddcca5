//! Network services of the camera on its loopback address. Each service runs as one task that owns
//! its socket and (in a JoinSet) its connections, so aborting the task closes everything at once.

pub mod digest;
pub mod http;
pub mod https;
pub mod rtsp;
pub mod ssdp;
pub mod telnet;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

use super::{Device, Service};
use crate::wire::accept_loop;
pub use crate::wire::{read_request, Request};
use crate::SimError;

/// Bind the service's socket now (so a failure is reported) and spawn its task.
/// (Synchronous on purpose: the telnet shell can start services, and an async fn here would make the
/// future types recursive.)
pub fn spawn(dev: Arc<Device>, svc: Service) -> Result<JoinHandle<()>, SimError> {
    let addr = SocketAddr::from((dev.ip, svc.port()));
    let bind_err = |source| SimError::Bind {
        service: svc.id().to_string(),
        addr: addr.to_string(),
        source,
    };
    if svc == Service::Ssdp {
        let sock = std::net::UdpSocket::bind(addr)
            .and_then(|s| s.set_nonblocking(true).map(|_| s))
            .and_then(UdpSocket::from_std)
            .map_err(bind_err)?;
        return Ok(tokio::spawn(ssdp::serve(dev, sock)));
    }
    // std sets SO_REUSEADDR, so a restart after SIGKILL can rebind at once.
    let listener = std::net::TcpListener::bind(addr)
        .and_then(|l| l.set_nonblocking(true).map(|_| l))
        .and_then(TcpListener::from_std)
        .map_err(bind_err)?;
    Ok(match svc {
        Service::Telnet => tokio::spawn(accept_loop(dev, listener, telnet::handle)),
        Service::Http => tokio::spawn(accept_loop(dev, listener, http::handle)),
        Service::Https => {
            let (config, fp) =
                crate::ipcam::tls::server_config(&dev).map_err(|reason| SimError::Tls {
                    service: svc.id().to_string(),
                    reason,
                })?;
            // Each connection takes the configuration current when it is accepted, so that
            // `certtool use --slot N` (ipcam-pro) switches new handshakes without a restart.
            dev.set_serving(Some((fp, config)));
            tokio::spawn(accept_loop(dev, listener, https::handle))
        }
        Service::Rtsp => tokio::spawn(accept_loop(dev, listener, rtsp::handle)),
        Service::Ssdp => unreachable!("handled above"),
    })
}
