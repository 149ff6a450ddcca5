//! `AcquireWrite` of the SMP characteristic, as BlueZ offers it: a socket for writes without response, and the
//! MTU. bleak calls it only to learn the MTU (and closes the socket at once); bytes a client does write
//! through it take the same path as `WriteValue` (slots, reassembly, answers), in pieces of at most MTU − 3.
//! BlueZ's socket keeps each write a packet of its own; this one is a stream (SMP is reassembled by its
//! header either way).

use std::collections::HashMap;
use std::os::unix::net::UnixStream;

use tokio::io::AsyncReadExt;

use zbus::Connection;

use super::gatt::SmpCharacteristic;

/// A socket pair: the client's end, and ours, read by a task that hands what comes to the characteristic at
/// `path` as writes of at most `payload` bytes.
pub fn socket_for_writes(
    conn: &Connection,
    path: &str,
    payload: usize,
) -> std::io::Result<std::os::fd::OwnedFd> {
    let (ours, theirs) = UnixStream::pair()?;
    ours.set_nonblocking(true)?;
    let ours = tokio::net::UnixStream::from_std(ours)?;
    tokio::spawn(forward(conn.clone(), path.to_string(), ours, payload));
    Ok(theirs.into())
}

/// Feeds the bytes into `WriteValue` until the client closes its end.
async fn forward(
    conn: Connection,
    path: String,
    mut socket: tokio::net::UnixStream,
    payload: usize,
) {
    let mut buf = vec![0u8; payload];
    loop {
        let n = match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let server = conn.object_server();
        let Ok(iface) = server
            .interface::<_, SmpCharacteristic>(path.as_str())
            .await
        else {
            return;
        };
        let ctxt = iface.signal_context().clone();
        let mut c = iface.get_mut().await;
        if let Err(e) = c
            .write_value(buf[..n].to_vec(), HashMap::new(), &conn, ctxt)
            .await
        {
            tracing::info!("a write through AcquireWrite's socket of {path} failed: {e}");
            return;
        }
    }
}
