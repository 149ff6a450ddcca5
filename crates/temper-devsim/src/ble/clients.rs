//! Clients that leave the bus: BlueZ watches `NameOwnerChanged` and ends the discovery session of a client
//! that disconnected without calling `StopDiscovery` (a killed `bluetoothctl scan on`, a crashed app), so
//! the adapter stops discovering once nobody asks for it. The simulated BlueZ does the same.

use futures::StreamExt;
use zbus::Connection;

use super::bluez::Adapter;

/// Watches for clients leaving the bus and ends their discovery sessions on every adapter in `adapters`.
pub async fn watch_vanished(conn: Connection, adapters: Vec<String>) -> zbus::Result<()> {
    let dbus = zbus::fdo::DBusProxy::new(&conn).await?;
    let mut changes = dbus.receive_name_owner_changed().await?;
    while let Some(signal) = changes.next().await {
        let Ok(args) = signal.args() else { continue };
        let gone = args.new_owner().is_none() && args.name().starts_with(':');
        if !gone {
            continue;
        }
        let client = args.name().to_string();
        for path in &adapters {
            let iface = conn
                .object_server()
                .interface::<_, Adapter>(path.as_str())
                .await?;
            let mut adapter = iface.get_mut().await;
            adapter
                .forget_client(&client, iface.signal_context())
                .await?;
        }
    }
    Ok(())
}
