//! `org.temper.Sim1` on the adapter object: controls of the simulated world that no real BlueZ has, for
//! tests. `DropLink(s address)` ends a peripheral's connection as a supervision timeout does: its Device1
//! `ServicesResolved` and `Connected` go false (PropertiesChanged, as BlueZ emits them), a request being
//! reassembled is discarded and notifications stop. The device stays discoverable and can be connected again;
//! its GATT objects stay exported, as BlueZ keeps a device's GATT cache.

use zbus::Connection;

use super::device::Device;

/// The control interface's name.
pub const SIM_INTERFACE: &str = "org.temper.Sim1";

/// Errors of the control interface (BlueZ's names, so clients report them alike).
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.bluez.Error")]
pub enum SimControlError {
    #[zbus(error)]
    ZBus(zbus::Error),
    /// No such device (not discovered yet, or not in range).
    DoesNotExist(String),
    /// The device is not connected.
    NotConnected(String),
}

/// `org.temper.Sim1`, served at each adapter's path: it drops that adapter's links.
pub struct SimControl {
    /// The adapter's object path.
    pub adapter: String,
}

#[zbus::interface(name = "org.temper.Sim1")]
impl SimControl {
    /// Drops the link to the device `address` (as `AA:BB:...`).
    async fn drop_link(
        &self,
        address: String,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<(), SimControlError> {
        let path = format!(
            "{}/dev_{}",
            self.adapter,
            address.to_ascii_uppercase().replace(':', "_")
        );
        match drop_link(conn, &path).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(SimControlError::NotConnected(format!(
                "{address} is not connected"
            ))),
            Err(zbus::Error::InterfaceNotFound) => Err(SimControlError::DoesNotExist(format!(
                "no device {address} (discover it first)"
            ))),
            Err(e) => Err(e.into()),
        }
    }
}

/// Drops the link of the device at `path`: its radio link ends, then `ServicesResolved` and `Connected` go
/// false. Returns whether it was connected.
pub async fn drop_link(conn: &Connection, path: &str) -> zbus::Result<bool> {
    let iface = conn.object_server().interface::<_, Device>(path).await?;
    let mut d = iface.get_mut().await;
    d.link.disconnect();
    if !d.connected {
        return Ok(false);
    }
    tracing::info!("link to {path} dropped");
    if d.services_resolved {
        d.services_resolved = false;
        d.services_resolved_changed(iface.signal_context()).await?;
    }
    d.connected = false;
    d.connected_changed(iface.signal_context()).await?;
    Ok(true)
}
