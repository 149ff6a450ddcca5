//! `org.bluez.Device1`: one peripheral as one adapter knows it, added (InterfacesAdded) when that adapter's
//! discovery first finds it, or at start when the adapter holds a bond with it (BlueZ loads bonded devices
//! from its storage). Connect resolves its GATT services ([`super::layout`]); Pair pairs it
//! ([`super::pairing`]); `Paired` and `Bonded` are the adapter's bond record ([`super::bonds`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI16, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use zbus::object_server::SignalContext;
use zbus::zvariant::OwnedObjectPath;
use zbus::Connection;

use super::bluez::BluezError;
use super::gatt::object_path;
use super::host::Host;
use super::link::RadioLink;
use super::objects::{owned, InterfaceMap, Kind};
use super::peripherals::Peripheral;
use crate::zephyr::Shared;

/// Serves `p`'s Device1 under the adapter of `host` and announces it (InterfacesAdded), as BlueZ does when
/// discovery finds a device. Nothing happens when it is there already.
pub(super) async fn add_device(
    conn: &Connection,
    host: &Host,
    p: &Peripheral,
    firmware: Shared,
) -> zbus::Result<()> {
    let path = p.object_path(&host.path);
    if conn
        .object_server()
        .interface::<_, Device>(path.as_str())
        .await
        .is_ok()
    {
        return Ok(());
    }
    let link = Arc::new(RadioLink::new(
        host.radio,
        path.clone(),
        Arc::clone(&host.faults),
    ));
    let device = Device {
        link,
        peripheral: p.clone(),
        host: host.clone(),
        firmware,
        rssi: AtomicI16::new(p.rssi),
        connected: false,
        services_resolved: false,
        trusted: false,
        gatt_added: false,
        pairing: Arc::default(),
    };
    let interfaces = device.interfaces();
    conn.object_server().at(path.as_str(), device).await?;
    host.objects
        .announce(conn, &path, Kind::Device, interfaces)
        .await
}

/// `org.bluez.Device1` of one peripheral under one adapter.
pub struct Device {
    pub peripheral: Peripheral,
    /// The adapter it is under.
    pub host: Host,
    /// The firmware behind it (SMP server, bond records, commissioning state).
    pub firmware: Shared,
    /// The radio link of this adapter's connection to it (timing, drops), [`super::link`].
    pub link: Arc<RadioLink>,
    /// The last advertisement's signal strength (updated while discovering, [`super::advertising`]).
    pub rssi: AtomicI16,
    pub connected: bool,
    pub services_resolved: bool,
    pub trusted: bool,
    /// Whether its GATT objects are on the bus (from the first connection on, as BlueZ caches them).
    pub gatt_added: bool,
    /// Set while a pairing waits for the agent: notified by CancelPairing.
    pub pairing: Arc<Mutex<Option<Arc<Notify>>>>,
}

impl Device {
    fn path(&self) -> String {
        self.peripheral.object_path(&self.host.path)
    }

    fn is_bonded(&self) -> bool {
        self.host.bonded_with(&self.peripheral.address)
    }

    /// Its interfaces and properties, for the object manager.
    pub fn interfaces(&self) -> InterfaceMap {
        let p = &self.peripheral;
        let mut props = HashMap::from([
            ("Address".to_string(), owned(p.address.clone().into())),
            ("AddressType".into(), owned("random".into())),
            ("Name".into(), owned(p.name.clone().into())),
            ("Alias".into(), owned(p.name.clone().into())),
            ("Adapter".into(), owned(object_path(&self.host.path).into())),
            ("Paired".into(), owned(self.is_bonded().into())),
            ("Bonded".into(), owned(self.is_bonded().into())),
            ("Trusted".into(), owned(self.trusted.into())),
            ("Blocked".into(), owned(false.into())),
            ("LegacyPairing".into(), owned(p.legacy_pairing.into())),
            (
                "RSSI".into(),
                owned(self.rssi.load(Ordering::Relaxed).into()),
            ),
            ("Connected".into(), owned(self.connected.into())),
            ("UUIDs".into(), owned(p.service_uuids.clone().into())),
            (
                "ServicesResolved".into(),
                owned(self.services_resolved.into()),
            ),
        ]);
        let data = p.manufacturer_data(&self.firmware);
        if !data.is_empty() {
            props.insert("ManufacturerData".into(), owned(data.into()));
        }
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
        self.link.connect();
        if !self.connected {
            self.connected = true;
            self.connected_changed(&ctxt).await?;
        }
        if !self.services_resolved {
            // Service discovery runs after the connection, from a task of its own (the object server is
            // busy dispatching this call); ServicesResolved follows.
            let conn = conn.clone();
            let path = self.path();
            tokio::spawn(async move {
                if let Err(e) = super::layout::resolve_services(conn, path.clone()).await {
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
        self.link.disconnect();
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

    /// Pairs (see [`super::pairing::pair`]); `Paired` and `Bonded` change on success. A device that is not
    /// connected is fine (BlueZ connects for pairing). Takes `&self` so that CancelPairing can run meanwhile.
    async fn pair(
        &self,
        #[zbus(signal_context)] ctxt: SignalContext<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<(), BluezError> {
        let cancel = {
            let mut slot = self.pairing.lock().unwrap_or_else(|p| p.into_inner());
            if slot.is_some() {
                return Err(BluezError::InProgress("In Progress".into()));
            }
            slot.insert(Arc::new(Notify::new())).clone()
        };
        let path = self.path();
        let result = super::pairing::pair(
            conn,
            &self.host,
            &self.peripheral,
            &self.firmware,
            &path,
            &cancel,
        )
        .await;
        *self.pairing.lock().unwrap_or_else(|p| p.into_inner()) = None;
        result?;
        self.paired_changed(&ctxt).await?;
        self.bonded_changed(&ctxt).await?;
        Ok(())
    }

    /// Cancels a pairing waiting for the agent; DoesNotExist when none runs.
    async fn cancel_pairing(&self) -> Result<(), BluezError> {
        let slot = self.pairing.lock().unwrap_or_else(|p| p.into_inner());
        match slot.as_ref() {
            Some(cancel) => {
                cancel.notify_one();
                Ok(())
            }
            None => Err(BluezError::DoesNotExist("Does Not Exist".into())),
        }
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
        object_path(&self.host.path)
    }
    #[zbus(property)]
    fn paired(&self) -> bool {
        self.is_bonded()
    }
    #[zbus(property)]
    fn bonded(&self) -> bool {
        self.is_bonded()
    }
    #[zbus(property)]
    fn trusted(&self) -> bool {
        self.trusted
    }
    #[zbus(property)]
    fn set_trusted(&mut self, trusted: bool) {
        self.trusted = trusted;
    }
    #[zbus(property)]
    fn blocked(&self) -> bool {
        false
    }
    #[zbus(property)]
    fn legacy_pairing(&self) -> bool {
        self.peripheral.legacy_pairing
    }
    #[zbus(property, name = "RSSI")]
    pub fn rssi(&self) -> i16 {
        self.rssi.load(Ordering::Relaxed)
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
    #[zbus(property)]
    pub fn manufacturer_data(&self) -> HashMap<u16, zbus::zvariant::OwnedValue> {
        self.peripheral.manufacturer_data(&self.firmware)
    }
}
