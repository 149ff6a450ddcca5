//! SMP over UDP on udp/1337, with no framing and no authentication (a real-world exposure): one SMP packet per
//! datagram, the reply sent to the sender. A datagram larger than the net buffer (`buf_size`) is dropped
//! (`smp_drop`), as are packets the server drops.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::net::UdpSocket;

use super::super::{lock, Shared};
use super::answer;

/// Serves the socket until aborted, or until `stop` is set (checked after each reply).
pub(crate) async fn serve(shared: Shared, sock: UdpSocket, stop: Arc<AtomicBool>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let (n, peer) = match sock.recv_from(&mut buf).await {
            Ok(got) => got,
            Err(e) => {
                tracing::warn!("SMP over UDP: {e}");
                continue;
            }
        };
        let buf_size = lock(&shared).buf_size() as usize;
        if n > buf_size {
            lock(&shared).log_drop(&format!(
                "UDP datagram of {n} bytes over the {buf_size}-byte net buffer"
            ));
            continue;
        }
        for reply in answer(&shared, &buf[..n]).await {
            if let Err(e) = sock.send_to(&reply, peer).await {
                tracing::warn!("SMP over UDP reply to {peer}: {e}");
            }
        }
        if stop.load(Ordering::SeqCst) {
            return;
        }
    }
}
