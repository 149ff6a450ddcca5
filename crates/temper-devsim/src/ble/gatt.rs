//! GATT objects of a connected peripheral: the MCUmgr SMP service (`GattService1` with its `Device`), its one
//! characteristic (write without response + notify; `Service`, `MTU`) backed by the firmware's own SMP server
//! ([`crate::zephyr`]). Writes obey the peripheral's access rules ([`super::pairing::check_write`]).
//!
//! As Zephyr's Bluetooth SMP transport does, a request may span several writes: the bytes are gathered until
//! the SMP header's length is complete, then answered; a packet larger than the net buffer is dropped with no
//! reply. Each reply goes back as notifications of at most MTU − 3 bytes (the `Value` property changing).
//!
//! Both directions go through the peripheral's radio link ([`super::link`]): a write returns once its slot's
//! exchange has happened, notifications go out in the peripheral's slots, and a write on a link that is down
//! fails with `org.bluez.Error.NotConnected`. A request the world's `--drop-after` fault names is handled, but
//! its reply is lost and the link drops.

use std::collections::HashMap;
use std::sync::Arc;

use zbus::object_server::SignalContext;
use zbus::zvariant::{ObjectPath, OwnedObjectPath, OwnedValue};
use zbus::Connection;

use super::bluez::BluezError;
use super::host::Host;
use super::link::RadioLink;
use super::objects::{owned, InterfaceMap};
use super::peripherals::Peripheral;
use crate::zephyr::Shared;

/// MCUmgr's SMP characteristic.
pub const SMP_CHARACTERISTIC: &str = "da2e7828-fbce-4e01-ae9e-261174997c48";
/// The default ATT MTU (a common LE Data Length value); the SMP characteristic reports its link's.
pub const MTU: u16 = 247;
/// SMP header length.
const HEADER: usize = 8;

/// BlueZ's errors for GATT calls (`org.bluez.Error.*`).
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.bluez.Error")]
pub enum GattError {
    #[zbus(error)]
    ZBus(zbus::Error),
    /// The link to the device is down.
    NotConnected(String),
    /// A value longer than the characteristic takes (MTU − 3 for a write without response).
    InvalidValueLength(String),
    /// Not allowed: a write needing a bond (ATT error 0x05, Insufficient Authentication).
    NotPermitted(String),
    /// The operation failed.
    Failed(String),
}

/// What answers a peripheral's SMP service: the device's SMP server, reached over its radio link.
#[derive(Clone)]
pub struct SmpBackend {
    pub server: Shared,
    pub link: Arc<RadioLink>,
}

/// `org.bluez.GattService1`.
pub struct GattService {
    pub uuid: String,
    pub device: OwnedObjectPath,
}

impl GattService {
    pub fn interfaces(&self) -> InterfaceMap {
        let props = HashMap::from([
            ("UUID".to_string(), owned(self.uuid.clone().into())),
            ("Primary".into(), owned(true.into())),
            ("Device".into(), owned(self.device.clone().into())),
        ]);
        HashMap::from([("org.bluez.GattService1".to_string(), props)])
    }
}

#[zbus::interface(name = "org.bluez.GattService1")]
impl GattService {
    #[zbus(property, name = "UUID")]
    fn uuid(&self) -> String {
        self.uuid.clone()
    }
    #[zbus(property)]
    fn primary(&self) -> bool {
        true
    }
    #[zbus(property)]
    fn device(&self) -> OwnedObjectPath {
        self.device.clone()
    }
}

/// `org.bluez.GattCharacteristic1` of the SMP service.
pub struct SmpCharacteristic {
    /// Its own object path (its notifications' state on the link is kept under it).
    path: String,
    pub service: OwnedObjectPath,
    backend: SmpBackend,
    /// The adapter this object is under (whose bonds count) and the peripheral (whose rules apply).
    host: Host,
    peripheral: Peripheral,
    /// Bytes of a request not complete yet.
    pending: Vec<u8>,
    /// The connection (epoch) the pending bytes came in on.
    epoch: Option<u64>,
}

impl SmpCharacteristic {
    pub fn new(
        path: String,
        service: OwnedObjectPath,
        backend: SmpBackend,
        host: Host,
        peripheral: Peripheral,
    ) -> SmpCharacteristic {
        SmpCharacteristic {
            path,
            service,
            backend,
            host,
            peripheral,
            pending: Vec::new(),
            epoch: None,
        }
    }

    /// Whether the central subscribed to notifications (the CCCD's value).
    pub fn is_notifying(&self) -> bool {
        self.backend.link.subscribed(&self.path)
    }

    pub fn interfaces(&self) -> InterfaceMap {
        let link = &self.backend.link;
        let props = HashMap::from([
            ("UUID".to_string(), owned(SMP_CHARACTERISTIC.into())),
            ("Service".into(), owned(self.service.clone().into())),
            ("Value".into(), owned(link.value(&self.path).into())),
            (
                "Notifying".into(),
                owned(link.subscribed(&self.path).into()),
            ),
            ("Flags".into(), owned(flags().into())),
            ("MTU".into(), owned(link.params.mtu.into())),
        ]);
        HashMap::from([("org.bluez.GattCharacteristic1".to_string(), props)])
    }

    /// The next complete request in `pending`, if any; a request over the net buffer is dropped (and so is
    /// everything gathered), as Zephyr drops it.
    fn next_request(&mut self) -> Option<Vec<u8>> {
        if self.pending.len() < HEADER {
            return None;
        }
        let len = HEADER + usize::from(u16::from_be_bytes([self.pending[2], self.pending[3]]));
        let limit = crate::zephyr::lock(&self.backend.server).buf_size() as usize;
        if len > limit {
            tracing::warn!(
                len,
                limit,
                "SMP request over BLE larger than the net buffer: dropped"
            );
            self.pending.clear();
            return None;
        }
        (self.pending.len() >= len).then(|| self.pending.drain(..len).collect())
    }
}

fn flags() -> Vec<String> {
    vec!["write-without-response".into(), "notify".into()]
}

#[zbus::interface(name = "org.bluez.GattCharacteristic1")]
impl SmpCharacteristic {
    /// SMP answers by notification; a read returns nothing, as Zephyr's characteristic does.
    async fn read_value(&self, _options: HashMap<String, OwnedValue>) -> Vec<u8> {
        Vec::new()
    }

    /// Takes one ATT write (at most MTU − 3 bytes) in the central's next slot; answers each request it
    /// completes by notifications.
    pub(super) async fn write_value(
        &mut self,
        value: Vec<u8>,
        _options: HashMap<String, OwnedValue>,
        #[zbus(connection)] conn: &Connection,
        #[zbus(signal_context)] ctxt: SignalContext<'_>,
    ) -> Result<(), GattError> {
        let link = self.backend.link.clone();
        let epoch = admit_write(
            &link,
            &self.host,
            &self.peripheral,
            &self.backend.server,
            value.len(),
        )
        .await?;
        if self.epoch != Some(epoch) {
            // A new connection: a request cut by the last one is gone.
            self.pending.clear();
            self.epoch = Some(epoch);
        }
        self.pending.extend_from_slice(&value);
        while let Some(request) = self.next_request() {
            let replies = crate::zephyr::net::answer(&self.backend.server, &request).await;
            if link.faults.drops_after(&request) {
                tracing::info!("--drop-after: the reply is lost, the link drops");
                self.pending.clear();
                super::sim::drop_link(conn, &link.device).await?;
                return Ok(());
            }
            for reply in replies {
                link.notify(conn, ctxt.path().as_str(), epoch, reply);
            }
        }
        Ok(())
    }

    /// A socket for writes and the MTU (bleak asks for it to learn the MTU).
    async fn acquire_write(
        &self,
        _options: HashMap<String, OwnedValue>,
        #[zbus(connection)] conn: &Connection,
        #[zbus(signal_context)] ctxt: SignalContext<'_>,
    ) -> Result<(zbus::zvariant::OwnedFd, u16), GattError> {
        let link = &self.backend.link;
        if link.epoch().is_none() {
            return Err(GattError::NotConnected("Not Connected".into()));
        }
        let fd =
            super::acquire::socket_for_writes(conn, ctxt.path().as_str(), link.params.payload())
                .map_err(|e| GattError::Failed(format!("no socket: {e}")))?;
        Ok((fd.into(), link.params.mtu))
    }

    async fn start_notify(
        &mut self,
        #[zbus(signal_context)] ctxt: SignalContext<'_>,
    ) -> Result<(), GattError> {
        if self.backend.link.epoch().is_none() {
            return Err(GattError::NotConnected("Not Connected".into()));
        }
        if self.backend.link.set_subscribed(&self.path, true) {
            self.notifying_changed(&ctxt).await?;
        }
        Ok(())
    }

    async fn stop_notify(
        &mut self,
        #[zbus(signal_context)] ctxt: SignalContext<'_>,
    ) -> Result<(), GattError> {
        if self.backend.link.set_subscribed(&self.path, false) {
            self.notifying_changed(&ctxt).await?;
        }
        Ok(())
    }

    #[zbus(property, name = "UUID")]
    fn uuid(&self) -> String {
        SMP_CHARACTERISTIC.into()
    }
    #[zbus(property)]
    fn service(&self) -> OwnedObjectPath {
        self.service.clone()
    }
    #[zbus(property)]
    fn value(&self) -> Vec<u8> {
        self.backend.link.value(&self.path)
    }
    #[zbus(property)]
    fn notifying(&self) -> bool {
        self.backend.link.subscribed(&self.path)
    }
    #[zbus(property)]
    fn flags(&self) -> Vec<String> {
        flags()
    }
    #[zbus(property, name = "MTU")]
    fn mtu(&self) -> u16 {
        self.backend.link.params.mtu
    }
}

/// What every write to a peripheral's characteristic goes through, whatever its `type` option (request,
/// command, reliable): the peripheral's access rules for the central of `host`, a length of at most MTU − 3,
/// then the central's next slot on `link`. Returns the connection's epoch (a new one means what was gathered
/// on the last connection is gone).
pub(super) async fn admit_write(
    link: &RadioLink,
    host: &Host,
    peripheral: &Peripheral,
    firmware: &Shared,
    len: usize,
) -> Result<u64, GattError> {
    super::pairing::check_write(host, peripheral, firmware).map_err(|e| match e {
        BluezError::NotPermitted(m) => GattError::NotPermitted(m),
        other => GattError::Failed(other.to_string()),
    })?;
    if len > link.params.payload() {
        return Err(GattError::InvalidValueLength(format!(
            "{len} bytes over an ATT MTU of {}",
            link.params.mtu
        )));
    }
    link.from_central()
        .await
        .map_err(|_| GattError::NotConnected("Not Connected".into()))
}

/// Object paths of the SMP service, its characteristic and that one's CCCD under `device`.
pub fn smp_paths(device: &str) -> (String, String, String) {
    let service = format!("{device}/service0010");
    let characteristic = format!("{service}/char0011");
    let cccd = format!("{characteristic}/desc0013");
    (service, characteristic, cccd)
}

/// `device` as an owned object path.
pub fn object_path(path: &str) -> OwnedObjectPath {
    ObjectPath::try_from(path.to_string())
        .expect("a valid object path")
        .into()
}
