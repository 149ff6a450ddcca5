//! `org.bluez.Device1`: one peripheral as the adapter knows it, added (InterfacesAdded) when discovery first
//! finds it.

use std::collections::HashMap;

use zbus::object_server::SignalContext;
use zbus::zvariant::{ObjectPath, OwnedObjectPath};
use zbus::Connection;

use super::bluez::{BluezError, ADAPTER_PATH};
use super::objects::{owned, InterfaceMap, ObjectManager};
use super::peripherals::Peripheral;

/// Serves `p`'s Device1 and announces it (InterfacesAdded), as BlueZ does when discovery finds a device.
pub(super) async fn add_device(
    conn: &Connection,
    objects: &ObjectManager,
    p: &Peripheral,
) -> zbus::Result<()> {
    let path = p.object_path();
    let device = p.device();
    let interfaces = device.interfaces();
    conn.object_server().at(path.as_str(), device).await?;
    objects.devices.lock().expect("devices").push(path.clone());
    let ctxt = SignalContext::new(conn, "/")?;
    ObjectManager::interfaces_added(&ctxt, ObjectPath::try_from(path.as_str())?, interfaces).await
}

/// `org.bluez.Device1` of one peripheral.
pub struct Device {
    pub peripheral: Peripheral,
    pub connected: bool,
    pub services_resolved: bool,
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
    ) -> Result<(), BluezError> {
        if !self.connected {
            self.connected = true;
            self.connected_changed(&ctxt).await?;
        }
        if !self.services_resolved {
            self.services_resolved = true;
            self.services_resolved_changed(&ctxt).await?;
        }
        Ok(())
    }

    async fn disconnect(
        &mut self,
        #[zbus(signal_context)] ctxt: SignalContext<'_>,
    ) -> Result<(), BluezError> {
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
