//! The simulated `org.bluez` adapter side, as BlueZ 5 lays it out on the system bus: `AgentManager1` at
//! `/org/bluez` (the agents themselves in [`super::agent`]) and one `Adapter1` per adapter at `/org/bluez/hciN`,
//! each with its own discovery. The object manager at `/` is in [`super::objects`]; the `Device1` per
//! peripheral and adapter at `/org/bluez/hciN/dev_XX_XX_XX_XX_XX_XX` in [`super::device`].
//!
//! Property names and types follow BlueZ's `doc/org.bluez.Adapter.rst` / `Device.rst` (5.66): clients such as
//! bluetoothctl, bleak and btleplug read them. Errors use BlueZ's names (`org.bluez.Error.NotReady` for
//! discovery on a powered-off adapter, ...).

use std::collections::HashMap;

use zbus::object_server::SignalContext;
use zbus::zvariant::{ObjectPath, OwnedObjectPath};
use zbus::Connection;

use super::agent::Agents;
use super::device::{add_device, Device};
use super::host::Host;
use super::objects::{owned, InterfaceMap, Kind, ObjectManager};
use super::peripherals::InRange;

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
    /// It exists already (a device paired again, an agent registered twice).
    AlreadyExists(String),
    /// The operation failed.
    Failed(String),
    /// The operation is not allowed (e.g. a write needing a bond, ATT error 0x05).
    NotPermitted(String),
    /// The operation is not supported.
    NotSupported(String),
    /// A read at an offset past the value.
    InvalidOffset(String),
    /// Pairing failed (wrong passkey, no agent).
    AuthenticationFailed(String),
    /// Pairing refused (by the agent, or by the peripheral).
    AuthenticationRejected(String),
    /// Pairing cancelled (by the agent, or CancelPairing).
    AuthenticationCanceled(String),
    /// The agent did not answer in time.
    AuthenticationTimeout(String),
}

/// The object path of the first adapter.
pub const ADAPTER_PATH: &str = "/org/bluez/hci0";

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
        self.agents.register(sender_of(&header), agent, capability)
    }

    async fn unregister_agent(
        &self,
        agent: OwnedObjectPath,
        #[zbus(header)] header: zbus::message::Header<'_>,
    ) -> Result<(), BluezError> {
        self.agents.unregister(&sender_of(&header), &agent)
    }

    async fn request_default_agent(
        &self,
        agent: OwnedObjectPath,
        #[zbus(header)] header: zbus::message::Header<'_>,
    ) -> Result<(), BluezError> {
        self.agents.request_default(sender_of(&header), agent)
    }
}

/// `org.bluez.Adapter1` of one adapter (`hci0`, `hci1`, ...).
pub struct Adapter {
    /// Its path, address, and what the world shares.
    pub host: Host,
    pub name: String,
    pub powered: bool,
    /// Clients (bus names) that run a discovery session; the adapter discovers while any does.
    pub discovery_clients: Vec<String>,
    /// Peripherals in range; each becomes a Device1 under this adapter when its discovery first runs.
    pub in_range: Vec<InRange>,
}

impl Adapter {
    /// Ends the discovery session of `client` (a bus name that left the bus), if it had one.
    pub async fn forget_client(
        &mut self,
        client: &str,
        ctxt: &SignalContext<'_>,
    ) -> zbus::Result<()> {
        if !self.discovery_clients.iter().any(|c| c == client) {
            return Ok(());
        }
        self.discovery_clients.retain(|c| c != client);
        tracing::debug!("{client} left the bus: its discovery session ends");
        if !self.is_discovering() {
            self.discovering_changed(ctxt).await?;
        }
        Ok(())
    }

    /// Whether any client discovers.
    pub fn is_discovering(&self) -> bool {
        !self.discovery_clients.is_empty()
    }

    /// Adds the Device1 of every peripheral in range this adapter is bonded with, as BlueZ loads bonded
    /// devices from its storage at start.
    pub async fn add_bonded(&self, conn: &Connection) -> zbus::Result<()> {
        for r in &self.in_range {
            if self.host.bonded_with(&r.peripheral.address) {
                add_device(conn, &self.host, &r.peripheral, r.firmware.clone()).await?;
            }
        }
        Ok(())
    }

    /// Its interfaces and properties, for the object manager.
    pub fn interfaces(&self) -> InterfaceMap {
        let props = HashMap::from([
            (
                "Address".to_string(),
                owned(self.host.address.clone().into()),
            ),
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
            let adapter = self.host.path.clone();
            let paths = self
                .in_range
                .iter()
                .map(|r| r.peripheral.object_path(&adapter))
                .collect();
            let levels = self.in_range.iter().map(|r| r.peripheral.rssi).collect();
            tokio::spawn(super::advertising::advertise(
                conn.clone(),
                adapter,
                paths,
                levels,
            ));
        }
        // Added from a task of its own (the object server is busy dispatching this call); the devices this
        // adapter knows already stay as they are.
        let conn = conn.clone();
        let host = self.host.clone();
        let in_range = self.in_range.clone();
        tokio::spawn(async move {
            for r in in_range {
                if let Err(e) = add_device(&conn, &host, &r.peripheral, r.firmware).await {
                    tracing::warn!("cannot add {}: {e}", r.peripheral.object_path(&host.path));
                }
            }
        });
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

    /// Removes the device and its GATT objects, and this adapter's bond with it (the peripheral keeps its
    /// own record, as a real device does until it is reset).
    async fn remove_device(
        &mut self,
        device: OwnedObjectPath,
        #[zbus(object_server)] server: &zbus::ObjectServer,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<(), BluezError> {
        let address = match server.interface::<_, Device>(device.as_str()).await {
            Ok(d) => d.get().await.peripheral.address.clone(),
            Err(_) => return Err(BluezError::DoesNotExist("Does Not Exist".into())),
        };
        self.host
            .bonds
            .remove(&self.host.address, &address)
            .map_err(|e| BluezError::Failed(format!("bond not removed: {e}")))?;
        let ctxt = SignalContext::new(conn, "/")?;
        let mut gone = self.host.objects.forget(device.as_str());
        // Deepest first: descriptors, characteristics, services, then the device.
        gone.sort_by_key(|g| std::cmp::Reverse(g.0.len()));
        for (path, kind) in gone {
            super::layout::remove(server, &path, kind).await;
            let iface = match kind {
                Kind::Device => "org.bluez.Device1",
                Kind::GattService => "org.bluez.GattService1",
                Kind::SmpCharacteristic | Kind::ReadCharacteristic | Kind::NusRx | Kind::NusTx => {
                    "org.bluez.GattCharacteristic1"
                }
                Kind::Descriptor => "org.bluez.GattDescriptor1",
            };
            let path = ObjectPath::try_from(path.as_str()).map_err(zbus::Error::from)?;
            ObjectManager::interfaces_removed(&ctxt, path, vec![iface.into()]).await?;
        }
        Ok(())
    }

    #[zbus(property)]
    fn address(&self) -> String {
        self.host.address.clone()
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
