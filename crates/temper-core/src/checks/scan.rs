//! TCP connect scan: a full three-way handshake to each port, so an open port is proven by the device itself
//! accepting a connection (no raw sockets, no privileges).

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// How long one connect may take. Loopback and a LAN answer (accept or refuse) in well under this; a port
/// that stays silent this long is filtered, which counts as closed.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(800);

/// Progress is reported after this many ports (and once at the end).
const PROGRESS_EVERY: u64 = 2048;

/// How often a port whose connect failed for a local reason (out of file descriptors or ephemeral ports) is
/// tried again, one at a time, after the concurrent pass.
const LOCAL_RETRIES: usize = 3;

/// What one connect showed.
enum Probe {
    Open,
    Closed,
    /// The connect failed on our side (EMFILE, EADDRNOTAVAIL, ENOBUFS...): the port was not tested.
    LocalFailure(String),
}

/// Scans `ports` on `ip` with at most `concurrency` connects in flight (at least 1) and returns the open
/// ports in ascending order.
///
/// `progress(done, total)` is called every few thousand ports and once at the end. A full scan of 1–65535 on
/// loopback takes a few seconds; on a network a filtered port costs [`CONNECT_TIMEOUT`] of one slot. A port
/// whose connect keeps failing for a local reason is logged as a warning and left out (it was not tested).
pub async fn tcp_connect_scan(
    ip: IpAddr,
    ports: RangeInclusive<u16>,
    concurrency: usize,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Vec<u16> {
    let total = ports.clone().count() as u64;
    let concurrency = concurrency.max(1);
    let mut open = Vec::new();
    let mut retry = Vec::new();
    let mut done = 0u64;
    let mut next_report = PROGRESS_EVERY;
    let mut next = ports.into_iter();
    let mut in_flight = JoinSet::new();
    loop {
        while in_flight.len() < concurrency {
            match next.next() {
                Some(port) => {
                    in_flight.spawn(async move { (port, probe(SocketAddr::new(ip, port)).await) });
                }
                None => break,
            }
        }
        let Some(joined) = in_flight.join_next().await else {
            break;
        };
        let (port, result) = match joined {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(%ip, "a connect task failed: {e}");
                continue;
            }
        };
        match result {
            Probe::Open => open.push(port),
            Probe::Closed => {}
            Probe::LocalFailure(_) => retry.push(port),
        }
        done += 1;
        if done >= next_report {
            next_report += PROGRESS_EVERY;
            progress(done, total);
        }
    }
    for port in retry {
        match probe_with_retries(SocketAddr::new(ip, port)).await {
            Probe::Open => open.push(port),
            Probe::Closed => {}
            Probe::LocalFailure(reason) => {
                tracing::warn!(%ip, port, "port not tested: connects fail locally ({reason})");
            }
        }
    }
    progress(total, total);
    open.sort_unstable();
    tracing::debug!(%ip, total, open = ?open, "TCP connect scan finished");
    open
}

async fn probe_with_retries(addr: SocketAddr) -> Probe {
    let mut last = Probe::LocalFailure("not tried".into());
    for _ in 0..LOCAL_RETRIES {
        last = probe(addr).await;
        if !matches!(last, Probe::LocalFailure(_)) {
            break;
        }
        tokio::task::yield_now().await;
    }
    last
}

/// True if a connect to `addr` succeeds within [`CONNECT_TIMEOUT`] (tried again on a local failure).
pub(crate) async fn port_open(addr: SocketAddr) -> bool {
    matches!(probe_with_retries(addr).await, Probe::Open)
}

/// One connect with [`CONNECT_TIMEOUT`]. The connection is dropped at once; nothing is sent.
async fn probe(addr: SocketAddr) -> Probe {
    match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(_stream)) => Probe::Open,
        Ok(Err(e)) if is_local_failure(&e) => Probe::LocalFailure(e.to_string()),
        Ok(Err(_)) | Err(_) => Probe::Closed,
    }
}

/// Errors that say nothing about the remote port: we ran out of something on our side.
fn is_local_failure(e: &std::io::Error) -> bool {
    const EMFILE: i32 = 24;
    const ENFILE: i32 = 23;
    const ENOBUFS: i32 = 105;
    const EADDRNOTAVAIL: i32 = 99;
    matches!(
        e.kind(),
        ErrorKind::AddrNotAvailable | ErrorKind::OutOfMemory
    ) || matches!(
        e.raw_os_error(),
        Some(EMFILE | ENFILE | ENOBUFS | EADDRNOTAVAIL)
    )
}
