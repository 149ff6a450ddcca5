//! telnetd: the same BusyBox login and shell as the console, over TCP 23.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::ipcam::console::{Action, Channel, Out, Session};
use crate::ipcam::Device;
use crate::wire::telnet::{escape_iac, TelnetFilter, OFFER};

pub async fn handle(dev: Arc<Device>, stream: TcpStream) {
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let writer = tokio::spawn(async move {
        while let Some(b) = rx.recv().await {
            if wr.write_all(&b).await.is_err() {
                return;
            }
        }
        let _ = wr.shutdown().await;
    });
    let _ = tx.send(OFFER.to_vec());
    let out_tx = tx.clone();
    let out: Out = Arc::new(move |b: &[u8]| {
        let _ = out_tx.send(escape_iac(b));
    });
    let mut session = Session::new(dev.clone(), Channel::Telnet, out);
    session.emit("\r\n");
    session.prompt();
    let mut tn = TelnetFilter::default();
    let mut buf = [0u8; 512];
    'conn: loop {
        let n = match rd.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let (data, reply) = tn.input(&buf[..n]);
        if !reply.is_empty() {
            let _ = tx.send(reply);
        }
        for b in data {
            match session.feed(b).await {
                Action::None => {}
                Action::Close => break 'conn,
                Action::Reboot => {
                    dev.request_reboot();
                    break 'conn;
                }
            }
        }
    }
    drop(session);
    drop(tx);
    let _ = writer.await;
}
