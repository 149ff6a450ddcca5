//! Advertising, as one adapter sees it: while any client discovers on it, every peripheral in range advertises
//! every [`INTERVAL`], and each advertisement received updates its Device1 `RSSI` (PropertiesChanged), the
//! signal wobbling by a couple of dBm around the peripheral's level, and its `ManufacturerData` when it has
//! some (the plug's state byte turns 1 once it is commissioned). Scanners that only report what they hear
//! during their scan (bleak) see the devices through these updates.

use std::sync::atomic::Ordering;
use std::time::Duration;

use zbus::Connection;

use super::bluez::Adapter;
use super::device::Device;

/// Time between two advertisements of one peripheral.
pub const INTERVAL: Duration = Duration::from_millis(200);

/// Runs until the adapter at `adapter` stops discovering; then returns (the next discovery starts another).
/// `paths`: the Device1 objects under it, `levels` their signal levels.
pub async fn advertise(conn: Connection, adapter: String, paths: Vec<String>, levels: Vec<i16>) {
    let server = conn.object_server();
    let mut tick: i16 = 0;
    loop {
        tokio::time::sleep(INTERVAL).await;
        let discovering = match server.interface::<_, Adapter>(adapter.as_str()).await {
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
            let d = device.get().await;
            d.rssi.store(levels[i] + wobble, Ordering::Relaxed);
            if let Err(e) = d.r_s_s_i_changed(device.signal_context()).await {
                tracing::warn!("RSSI update of {path}: {e}");
            }
            if !d.manufacturer_data().is_empty() {
                if let Err(e) = d.manufacturer_data_changed(device.signal_context()).await {
                    tracing::warn!("manufacturer data update of {path}: {e}");
                }
            }
        }
    }
}
