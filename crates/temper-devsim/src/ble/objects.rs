//! `org.freedesktop.DBus.ObjectManager` at `/`, answering `GetManagedObjects` in path order (adapters before
//! their devices, as BlueZ does). zbus's own object manager returns a hash map in arbitrary order, and
//! bluetoothctl drops a device it sees before its adapter.

use std::collections::{BTreeMap, HashMap};

use zbus::object_server::SignalContext;
use zbus::zvariant::{ObjectPath, OwnedValue, Value};

use super::bluez::{Adapter, ADAPTER_PATH};
use super::device::Device;

/// An object path that sorts (zvariant's paths do not): serialized as a D-Bus object path (`o`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, zbus::zvariant::Type)]
#[serde(transparent)]
#[zvariant(signature = "o")]
pub struct SortedPath(String);

/// Interfaces and their properties of one object.
pub type InterfaceMap = HashMap<String, HashMap<String, OwnedValue>>;

/// The managed objects, for `GetManagedObjects`: registered paths, read on each call.
#[derive(Debug, Clone, Default)]
pub struct ObjectManager {
    /// Device object paths added so far.
    pub devices: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

pub fn owned(value: Value<'_>) -> OwnedValue {
    value
        .try_to_owned()
        .expect("a value without file descriptors")
}

#[zbus::interface(name = "org.freedesktop.DBus.ObjectManager")]
impl ObjectManager {
    async fn get_managed_objects(
        &self,
        #[zbus(object_server)] server: &zbus::ObjectServer,
    ) -> zbus::fdo::Result<BTreeMap<SortedPath, InterfaceMap>> {
        let mut out = BTreeMap::new();
        let path = |p: &str| SortedPath(p.to_string());
        out.insert(
            path("/org/bluez"),
            HashMap::from([("org.bluez.AgentManager1".to_string(), HashMap::new())]),
        );
        if let Ok(adapter) = server.interface::<_, Adapter>(ADAPTER_PATH).await {
            out.insert(path(ADAPTER_PATH), adapter.get().await.interfaces());
        }
        let devices = self.devices.lock().expect("devices").clone();
        for p in devices {
            if let Ok(device) = server.interface::<_, Device>(p.as_str()).await {
                out.insert(path(&p), device.get().await.interfaces());
            }
        }
        Ok(out)
    }

    #[zbus(signal)]
    pub async fn interfaces_added(
        ctxt: &SignalContext<'_>,
        object_path: ObjectPath<'_>,
        interfaces_and_properties: InterfaceMap,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    pub async fn interfaces_removed(
        ctxt: &SignalContext<'_>,
        object_path: ObjectPath<'_>,
        interfaces: Vec<String>,
    ) -> zbus::Result<()>;
}
