//! `org.freedesktop.DBus.ObjectManager` at `/`, answering `GetManagedObjects` in path order (each adapter
//! before its devices, as BlueZ does: `/org/bluez/hci0`, its devices, `/org/bluez/hci1`, its devices). zbus's own object manager returns a hash map in arbitrary order, and
//! bluetoothctl drops a device it sees before its adapter.

use std::collections::{BTreeMap, HashMap};

use zbus::object_server::SignalContext;
use zbus::zvariant::{ObjectPath, OwnedValue, Value};

use super::bluez::Adapter;
use super::descriptor::Cccd;
use super::device::Device;
use super::dis::ReadCharacteristic;
use super::gatt::{GattService, SmpCharacteristic};
use super::nus::{NusRx, NusTx};

/// An object path that sorts (zvariant's paths do not): serialized as a D-Bus object path (`o`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, zbus::zvariant::Type)]
#[serde(transparent)]
#[zvariant(signature = "o")]
pub struct SortedPath(String);

/// Interfaces and their properties of one object.
pub type InterfaceMap = HashMap<String, HashMap<String, OwnedValue>>;

/// What a registered object path serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Device,
    GattService,
    SmpCharacteristic,
    ReadCharacteristic,
    NusRx,
    NusTx,
    Descriptor,
}

/// The managed objects, for `GetManagedObjects`: the adapters, and registered paths read on each call.
#[derive(Debug, Clone, Default)]
pub struct ObjectManager {
    /// Object paths of the adapters (`/org/bluez/hciN`).
    pub adapters: Vec<String>,
    /// Object paths added after start (devices, GATT objects), in order.
    pub added: std::sync::Arc<std::sync::Mutex<Vec<(String, Kind)>>>,
}

impl ObjectManager {
    /// The manager of a world with adapters at `adapters`.
    pub fn new(adapters: Vec<String>) -> ObjectManager {
        ObjectManager {
            adapters,
            added: Default::default(),
        }
    }

    /// Records `path` and announces it (InterfacesAdded).
    pub async fn announce(
        &self,
        conn: &zbus::Connection,
        path: &str,
        kind: Kind,
        interfaces: InterfaceMap,
    ) -> zbus::Result<()> {
        self.added
            .lock()
            .expect("objects")
            .push((path.to_string(), kind));
        let ctxt = SignalContext::new(conn, "/")?;
        Self::interfaces_added(&ctxt, ObjectPath::try_from(path)?, interfaces).await
    }

    /// Forgets `path` and everything under it; returns what was removed.
    pub fn forget(&self, path: &str) -> Vec<(String, Kind)> {
        let mut added = self.added.lock().expect("objects");
        let below = format!("{path}/");
        let (gone, kept) = added
            .drain(..)
            .partition(|(p, _)| p == path || p.starts_with(&below));
        *added = kept;
        gone
    }
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
        for a in &self.adapters {
            if let Ok(adapter) = server.interface::<_, Adapter>(a.as_str()).await {
                out.insert(path(a), adapter.get().await.interfaces());
            }
        }
        let added = self.added.lock().expect("objects").clone();
        for (p, kind) in added {
            let interfaces = match kind {
                Kind::Device => match server.interface::<_, Device>(p.as_str()).await {
                    Ok(i) => i.get().await.interfaces(),
                    Err(_) => continue,
                },
                Kind::GattService => match server.interface::<_, GattService>(p.as_str()).await {
                    Ok(i) => i.get().await.interfaces(),
                    Err(_) => continue,
                },
                Kind::SmpCharacteristic => {
                    match server.interface::<_, SmpCharacteristic>(p.as_str()).await {
                        Ok(i) => i.get().await.interfaces(),
                        Err(_) => continue,
                    }
                }
                Kind::ReadCharacteristic => {
                    match server.interface::<_, ReadCharacteristic>(p.as_str()).await {
                        Ok(i) => i.get().await.interfaces(),
                        Err(_) => continue,
                    }
                }
                Kind::NusRx => match server.interface::<_, NusRx>(p.as_str()).await {
                    Ok(i) => i.get().await.interfaces(),
                    Err(_) => continue,
                },
                Kind::NusTx => match server.interface::<_, NusTx>(p.as_str()).await {
                    Ok(i) => i.get().await.interfaces(),
                    Err(_) => continue,
                },
                Kind::Descriptor => match server.interface::<_, Cccd>(p.as_str()).await {
                    Ok(i) => i.get().await.interfaces(),
                    Err(_) => continue,
                },
            };
            out.insert(path(&p), interfaces);
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
