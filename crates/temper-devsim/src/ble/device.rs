//! `org.bluez.Device1`: one peripheral as the adapter knows it, added (InterfacesAdded) when discovery first
//! finds it.

use std::collections::HashMap;

use zbus::object_server::SignalContext;
use zbus::zvariant::{ObjectPath, OwnedObjectPath};
use zbus::Connection;

use super::bluez::{BluezError, ADAPTER_PATH};
use super::gatt::{object_path, smp_paths, GattService, SmpBackend, SmpCharacteristic};
use super::objects::{owned, InterfaceMap, Kind, ObjectManager};
use super::peripherals::{Peripheral, SMP_SERVICE};

/// Serves `p`'s Device1 and announces it (InterfacesAdded), as BlueZ does when discovery finds a device.
/// `smp`: the SMP server behind its GATT SMP service, if it has one.
pub(super) async fn add_device(
    conn: &Connection,
    objects: &ObjectManager,
    p: &Peripheral,
    smp: Option<SmpBackend>,
) -> zbus::Result<()> {
    let path = p.object_path();
    let device = Device {
        peripheral: p.clone(),
        connected: false,
        services_resolved: false,
        smp,
        gatt_added: false,
        objects: objects.clone(),
    };
    let interfaces = device.interfaces();
    conn.object_server().at(path.as_str(), device).await?;
    objects
        .announce(conn, &path, Kind::Device, interfaces)
        .await
}

/// `org.bluez.Device1` of one peripheral.
pub struct Device {
    pub peripheral: Peripheral,
    pub connected: bool,
    pub services_resolved: bool,
    /// The SMP server behind the GATT SMP service (the zephyr-sensor's), over its radio link.
    pub smp: Option<SmpBackend>,
    /// Whether its GATT objects are on the bus (from the first connection on, as BlueZ caches them).
    pub gatt_added: bool,
    pub objects: ObjectManager,
}

/// Adds the GATT objects of `device` (if not yet), then marks its services resolved.
async fn resolve_services(conn: Connection, path: String) -> zbus::Result<()> {
    let server = conn.object_server();
    let iface = server.interface::<_, Device>(path.as_str()).await?;
    let (smp, add, objects) = {
        let d = iface.get().await;
        (d.smp.clone(), !d.gatt_added, d.objects.clone())
    };
    if let (Some(smp), true) = (smp, add) {
        let (service_path, char_path) = smp_paths(&path);
        let service = GattService {
            uuid: SMP_SERVICE.into(),
            device: object_path(&path),
        };
        let interfaces = service.interfaces();
        server.at(service_path.as_str(), service).await?;
        objects
            .announce(&conn, &service_path, Kind::GattService, interfaces)
            .await?;
        let characteristic = SmpCharacteristic::new(object_path(&service_path), smp);
        let interfaces = characteristic.interfaces();
        server.at(char_path.as_str(), characteristic).await?;
        objects
            .announce(&conn, &char_path, Kind::SmpCharacteristic, interfaces)
            .await?;
    }
    let mut d = iface.get_mut().await;
    d.gatt_added = true;
    if d.connected && !d.services_resolved {
        d.services_resolved = true;
        d.services_resolved_changed(iface.signal_context()).await?;
    }
    Ok(())
}

impl Device {
    /// Its interfaces and properties, for the object manager.
    pub fn interfaces(&self) -> InterfaceMap {
        let p = &self.peripheral;
        let props = HashMap::from([
            ("Address".to_string(), owned(p.address.clone().into())),
            ("AddressType".into(), owned("random".into())),
            ("Name".into(), owned(p.name.clone().into())),
            ("Alias".into(), owned(p.name.clone().into())),
            (
                "Adapter".into(),
                owned(ObjectPath::from_static_str_unchecked(ADAPTER_PATH).into()),
            ),
            ("Paired".into(), owned(false.into())),
            ("Bonded".into(), owned(false.into())),
            ("Trusted".into(), owned(false.into())),
            ("Blocked".into(), owned(false.into())),
            ("LegacyPairing".into(), owned(false.into())),
            ("RSSI".into(), owned(p.rssi.into())),
            ("Connected".into(), owned(self.connected.into())),
            ("UUIDs".into(), owned(p.service_uuids.clone().into())),
            (
                "ServicesResolved".into(),
                owned(self.services_resolved.into()),
            ),
        ]);
        HashMap::from([("org.bluez.Device1".to_string(), props)])
    }
}

#[zbus::interface(name = "org.bluez.Device1")]
impl Device {
    /// Connects, then resolves services: `Connected` then `ServicesResolved` change, in that order, as BlueZ
    /// does (clients wait for the second before they look for GATT objects).
    async fn connect(
        &mut self,
        #[zbus(signal_context)] ctxt: SignalContext<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<(), BluezError> {
        if let Some(smp) = &self.smp {
            smp.link.connect();
        }
        if !self.connected {
            self.connected = true;
            self.connected_changed(&ctxt).await?;
        }
        if !self.services_resolved {
            // Service discovery runs after the connection, from a task of its own (the object server is
            // busy dispatching this call); ServicesResolved follows.
            let conn = conn.clone();
            let path = self.peripheral.object_path();
            tokio::spawn(async move {
                if let Err(e) = resolve_services(conn, path.clone()).await {
                    tracing::warn!("service discovery of {path}: {e}");
                }
            });
        }
        Ok(())
    }

    async fn disconnect(
        &mut self,
        #[zbus(signal_context)] ctxt: SignalContext<'_>,
    ) -> Result<(), BluezError> {
        if let Some(smp) = &self.smp {
            smp.link.disconnect();
        }
        if self.services_resolved {
            self.services_resolved = false;
            self.services_resolved_changed(&ctxt).await?;
        }
        if self.connected {
            self.connected = false;
            self.connected_changed(&ctxt).await?;
        }
        Ok(())
    }

    #[zbus(property)]
    fn address(&self) -> String {
        self.peripheral.address.clone()
    }
    #[zbus(property)]
    fn address_type(&self) -> String {
        "random".into()
    }
    #[zbus(property)]
    fn name(&self) -> String {
        self.peripheral.name.clone()
    }
    #[zbus(property)]
    fn alias(&self) -> String {
        self.peripheral.name.clone()
    }
    #[zbus(property)]
    fn adapter(&self) -> OwnedObjectPath {
        ObjectPath::from_static_str_unchecked(ADAPTER_PATH).into()
    }
    #[zbus(property)]
    fn paired(&self) -> bool {
        false
    }
    #[zbus(property)]
    fn bonded(&self) -> bool {
        false
    }
    #[zbus(property)]
    fn trusted(&self) -> bool {
        false
    }
    #[zbus(property)]
    fn blocked(&self) -> bool {
        false
    }
    #[zbus(property)]
    fn legacy_pairing(&self) -> bool {
        false
    }
    #[zbus(property, name = "RSSI")]
    pub fn rssi(&self) -> i16 {
        self.peripheral.rssi
    }
    #[zbus(property)]
    fn connected(&self) -> bool {
        self.connected
    }
    #[zbus(property, name = "UUIDs")]
    fn uuids(&self) -> Vec<String> {
        self.peripheral.service_uuids.clone()
    }
    #[zbus(property)]
    fn services_resolved(&self) -> bool {
        self.services_resolved
    }
}
