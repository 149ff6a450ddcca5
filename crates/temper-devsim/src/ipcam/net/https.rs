//! httpsd: the web admin behind rustls on 443 (TLS 1.2 and 1.3 only).

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use crate::ipcam::Device;

/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// One connection, with the certificate httpsd serves at the moment it was accepted.
pub async fn handle(dev: Arc<Device>, stream: TcpStream) {
    let Some(config) = dev.serving_config() else {
        return;
    };
    let acceptor = TlsAcceptor::from(config);
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => super::http::serve(dev, tls, true).await,
        Ok(Err(e)) => tracing::debug!("httpsd handshake: {e}"),
        Err(_) => tracing::debug!("httpsd handshake timed out"),
    }
}
