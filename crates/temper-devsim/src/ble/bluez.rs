//! The simulated `org.bluez` adapter side, as BlueZ 5 lays it out on the system bus: `AgentManager1` at
//! `/org/bluez` and one `Adapter1` at `/org/bluez/hci0`. The object manager at `/` is in [`super::objects`]; the
//! `Device1` per peripheral at `/org/bluez/hci0/dev_XX_XX_XX_XX_XX_XX` in [`super::device`].
//!
//! Property names and types follow BlueZ's `doc/org.bluez.Adapter.rst` / `Device.rst` (5.66): clients such as
//! bluetoothctl, bleak and btleplug read them. Errors use BlueZ's names (`org.bluez.Error.NotReady` for
//! discovery on a powered-off adapter, ...).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use zbus::object_server::SignalContext;
use zbus::zvariant::OwnedObjectPath;
use zbus::Connection;

use super::device::Device;
use super::objects::{owned, InterfaceMap, ObjectManager};
use super::peripherals::Peripheral;

/// BlueZ's error names (`org.bluez.Error.*`).
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.bluez.Error")]
pub enum BluezError {
    #[zbus(error)]
    ZBus(zbus::Error),
    /// The adapter is powered off.
    NotReady(String),
    /// The operation is already running.
    InProgress(String),
    /// The object does not exist.
    DoesNotExist(String),
    /// The operation failed.
    Failed(String),
}

/// The object path of the adapter.
pub const ADAPTER_PATH: &str = "/org/bluez/hci0";

/// The agents registered through `AgentManager1` (paths on the registering client's connection).
#[derive(Debug, Default, Clone)]
pub struct Agents {
    inner: Arc<Mutex<AgentState>>,
}

#[derive(Debug, Default)]
struct AgentState {
    registered: Vec<(String, OwnedObjectPath, String)>,
    default: Option<(String, OwnedObjectPath)>,
}

impl Agents {
    /// The default agent: (bus name of its client, object path), if one was requested.
    pub fn default_agent(&self) -> Option<(String, OwnedObjectPath)> {
        self.inner.lock().expect("agents").default.clone()
    }
}

/// `org.bluez.AgentManager1`.
pub struct AgentManager {
    pub agents: Agents,
}

fn sender_of(header: &zbus::message::Header<'_>) -> String {
    header.sender().map(|s| s.to_string()).unwrap_or_default()
}

#[zbus::interface(name = "org.bluez.AgentManager1")]
impl AgentManager {
    async fn register_agent(
        &self,
        agent: OwnedObjectPath,
        capability: String,
        #[zbus(header)] header: zbus::message::Header<'_>,
    ) -> Result<(), BluezError> {
        let sender = sender_of(&header);
        let mut state = self.agents.inner.lock().expect("agents");
        if state
            .registered
            .iter()
            .any(|(s, p, _)| *s == sender && *p == agent)
        {
            return Err(BluezError::Failed("agent already registered".into()));
        }
        state.registered.push((sender, agent, capability));
        Ok(())
    }

    async fn unregister_agent(
        &self,
        agent: OwnedObjectPath,
        #[zbus(header)] header: zbus::message::Header<'_>,
    ) -> Result<(), BluezError> {
        let sender = sender_of(&header);
        let mut state = self.agents.inner.lock().expect("agents");
        let before = state.registered.len();
        state
            .registered
            .retain(|(s, p, _)| !(*s == sender && *p == agent));
        if state.registered.len() == before {
            return Err(BluezError::DoesNotExist("no such agent".into()));
        }
        if state
            .default
            .as_ref()
            .is_some_and(|(s, p)| *s == sender && *p == agent)
        {
            state.default = None;
        }
        Ok(())
    }

    async fn request_default_agent(
        &self,
        agent: OwnedObjectPath,
        #[zbus(header)] header: zbus::message::Header<'_>,
    ) -> Result<(), BluezError> {
        let sender = sender_of(&header);
        let mut state = self.agents.inner.lock().expect("agents");
        if !state
            .registered
            .iter()
            .any(|(s, p, _)| *s == sender && *p == agent)
        {
            return Err(BluezError::DoesNotExist("register the agent first".into()));
        }
        state.default = Some((sender, agent));
        Ok(())
    }
}

/// `org.bluez.Adapter1` of `hci0`.
pub struct Adapter {
    pub address: String,
    pub name: String,
    pub powered: bool,
    /// Clients (bus names) that run a discovery session; the adapter discovers while any does.
    pub discovery_clients: Vec<String>,
    /// Peripherals in range; each becomes a Device1 when discovery first runs.
    pub in_range: Vec<Peripheral>,
    /// Whether the Device1 objects were added already.
    pub found: bool,
    /// The object manager at `/`, told of each device added.
    pub objects: ObjectManager,
    /// SMP servers behind the peripherals' GATT SMP service, by device object path.
    pub smp_servers: HashMap<String, super::gatt::SmpBackend>,
}

impl Adapter {
    /// Whether any client discovers.
    pub fn is_discovering(&self) -> bool {
        !self.discovery_clients.is_empty()
    }

    /// Its interfaces and properties, for the object manager.
    pub fn interfaces(&self) -> InterfaceMap {
        let props = HashMap::from([
            ("Address".to_string(), owned(self.address.clone().into())),
            ("AddressType".into(), owned("public".into())),
            ("Name".into(), owned(self.name.clone().into())),
            ("Alias".into(), owned(self.name.clone().into())),
            ("Class".into(), owned(self.class().into())),
            ("Powered".into(), owned(self.powered.into())),
            ("Discoverable".into(), owned(false.into())),
            ("DiscoverableTimeout".into(), owned(180u32.into())),
            ("Pairable".into(), owned(true.into())),
            ("PairableTimeout".into(), owned(0u32.into())),
            ("Discovering".into(), owned(self.discovering().into())),
            ("UUIDs".into(), owned(Vec::<String>::new().into())),
            ("Modalias".into(), owned(self.modalias().into())),
            ("Roles".into(), owned(self.roles().into())),
        ]);
        HashMap::from([("org.bluez.Adapter1".to_string(), props)])
    }
}

#[zbus::interface(name = "org.bluez.Adapter1")]
impl Adapter {
    /// Starts a discovery session for the calling client (a second call from the same client is
    /// InProgress; other clients share the adapter's discovery, as in BlueZ).
    async fn start_discovery(
        &mut self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(signal_context)] ctxt: SignalContext<'_>,
        #[zbus(header)] header: zbus::message::Header<'_>,
    ) -> Result<(), BluezError> {
        if !self.powered {
            return Err(BluezError::NotReady("Resource Not Ready".into()));
        }
        let client = sender_of(&header);
        if self.discovery_clients.contains(&client) {
            return Err(BluezError::InProgress(
                "Operation already in progress".into(),
            ));
        }
        let was = self.discovering();
        self.discovery_clients.push(client);
        if !was {
            self.discovering_changed(&ctxt).await?;
            let paths = self.in_range.iter().map(Peripheral::object_path).collect();
            let levels = self.in_range.iter().map(|p| p.rssi).collect();
            tokio::spawn(super::advertising::advertise(conn.clone(), paths, levels));
        }
        if !self.found {
            self.found = true;
            // Added from a task of its own: the object server is busy dispatching this call.
            let conn = conn.clone();
            let peripherals = self.in_range.clone();
            let objects = self.objects.clone();
            let servers = self.smp_servers.clone();
            tokio::spawn(async move {
                for p in peripherals {
                    let smp = servers.get(&p.object_path()).cloned();
                    if let Err(e) = super::device::add_device(&conn, &objects, &p, smp).await {
                        tracing::warn!("cannot add {}: {e}", p.object_path());
                    }
                }
            });
        }
        Ok(())
    }

    async fn stop_discovery(
        &mut self,
        #[zbus(signal_context)] ctxt: SignalContext<'_>,
        #[zbus(header)] header: zbus::message::Header<'_>,
    ) -> Result<(), BluezError> {
        let client = sender_of(&header);
        if !self.discovery_clients.contains(&client) {
            return Err(BluezError::Failed("No discovery started".into()));
        }
        self.discovery_clients.retain(|c| *c != client);
        if !self.discovering() {
            self.discovering_changed(&ctxt).await?;
        }
        Ok(())
    }

    /// Accepted and ignored: every peripheral in range is reported whatever the filter.
    async fn set_discovery_filter(
        &self,
        _filter: std::collections::HashMap<String, zbus::zvariant::OwnedValue>,
    ) -> Result<(), BluezError> {
        Ok(())
    }

    async fn get_discovery_filters(&self) -> Vec<String> {
        [
            "UUIDs",
            "RSSI",
            "Transport",
            "DuplicateData",
            "Discoverable",
            "Pattern",
        ]
        .map(String::from)
        .to_vec()
    }

    async fn remove_device(
        &mut self,
        device: OwnedObjectPath,
        #[zbus(object_server)] server: &zbus::ObjectServer,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<(), BluezError> {
        let removed = server
            .remove::<Device, _>(device.as_str())
            .await
            .unwrap_or(false);
        if !removed {
            return Err(BluezError::DoesNotExist("Does Not Exist".into()));
        }
        self.objects.forget(device.as_str());
        let ctxt = SignalContext::new(conn, "/")?;
        ObjectManager::interfaces_removed(&ctxt, device.as_ref(), vec!["org.bluez.Device1".into()])
            .await?;
        Ok(())
    }

    #[zbus(property)]
    fn address(&self) -> String {
        self.address.clone()
    }
    #[zbus(property)]
    fn address_type(&self) -> String {
        "public".into()
    }
    #[zbus(property)]
    fn name(&self) -> String {
        self.name.clone()
    }
    #[zbus(property)]
    fn alias(&self) -> String {
        self.name.clone()
    }
    #[zbus(property)]
    fn class(&self) -> u32 {
        0x0000_010c
    }
    #[zbus(property)]
    fn powered(&self) -> bool {
        self.powered
    }
    #[zbus(property)]
    fn set_powered(&mut self, on: bool) {
        self.powered = on;
        if !on {
            self.discovery_clients.clear();
        }
    }
    #[zbus(property)]
    fn discoverable(&self) -> bool {
        false
    }
    #[zbus(property)]
    fn discoverable_timeout(&self) -> u32 {
        180
    }
    #[zbus(property)]
    fn pairable(&self) -> bool {
        true
    }
    #[zbus(property)]
    fn pairable_timeout(&self) -> u32 {
        0
    }
    #[zbus(property)]
    fn discovering(&self) -> bool {
        !self.discovery_clients.is_empty()
    }
    #[zbus(property, name = "UUIDs")]
    fn uuids(&self) -> Vec<String> {
        Vec::new()
    }
    #[zbus(property)]
    fn modalias(&self) -> String {
        "usb:v1D6Bp0246d0542".into()
    }
    #[zbus(property)]
    fn roles(&self) -> Vec<String> {
        vec!["central".into()]
    }
}
