//! Advertising, as the adapter sees it: while any client discovers, every peripheral in range advertises every
//! [`INTERVAL`], and each advertisement received updates its Device1 `RSSI` (PropertiesChanged), the signal
//! wobbling by a couple of dBm around the peripheral's level. Scanners that only report what they hear during
//! their scan (bleak) see the devices through these updates.

use std::time::Duration;

use zbus::Connection;

use super::bluez::{Adapter, ADAPTER_PATH};
use super::device::Device;

/// Time between two advertisements of one peripheral.
pub const INTERVAL: Duration = Duration::from_millis(200);

/// Runs until the adapter stops discovering; then returns (the next discovery starts another).
pub async fn advertise(conn: Connection, paths: Vec<String>, levels: Vec<i16>) {
    let server = conn.object_server();
    let mut tick: i16 = 0;
    loop {
        tokio::time::sleep(INTERVAL).await;
        let discovering = match server.interface::<_, Adapter>(ADAPTER_PATH).await {
            Ok(adapter) => adapter.get().await.is_discovering(),
            Err(_) => false,
        };
        if !discovering {
            return;
        }
        tick = tick.wrapping_add(1);
        for (i, path) in paths.iter().enumerate() {
            let Ok(device) = server.interface::<_, Device>(path.as_str()).await else {
                continue;
            };
            let wobble = ((tick + i as i16) % 5) - 2;
            let mut d = device.get_mut().await;
            d.peripheral.rssi = levels[i] + wobble;
            if let Err(e) = d.r_s_s_i_changed(device.signal_context()).await {
                tracing::warn!("RSSI update of {path}: {e}");
            }
        }
    }
}
