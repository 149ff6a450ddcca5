//! GATT objects of a connected peripheral: the MCUmgr SMP service (`GattService1` with its `Device`), its one
//! characteristic (write without response + notify; `Service`, `MTU`) backed by the firmware's own SMP server
//! ([`crate::zephyr`]). Writes obey the peripheral's access rules ([`super::pairing::check_write`]).
//!
//! As Zephyr's Bluetooth SMP transport does, a request may span several writes: the bytes are gathered until
//! the SMP header's length is complete, then answered; a packet larger than the net buffer is dropped with no
//! reply. Each reply goes back as notifications of at most MTU − 3 bytes (the `Value` property changing).

use std::collections::HashMap;

use zbus::object_server::SignalContext;
use zbus::zvariant::{ObjectPath, OwnedObjectPath, OwnedValue};

use super::bluez::BluezError;
use super::host::Host;
use super::objects::{owned, InterfaceMap};
use super::peripherals::Peripheral;
use crate::zephyr::Shared;

/// MCUmgr's SMP characteristic.
pub const SMP_CHARACTERISTIC: &str = "da2e7828-fbce-4e01-ae9e-261174997c48";
/// The ATT MTU BlueZ negotiated with the peripheral (a common LE Data Length value).
pub const MTU: u16 = 247;
/// SMP header length.
const HEADER: usize = 8;

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
    pub service: OwnedObjectPath,
    pub server: Shared,
    /// The adapter this object is under (whose bonds count) and the peripheral (whose rules apply).
    pub host: Host,
    pub peripheral: Peripheral,
    pub notifying: bool,
    /// The last notified value.
    pub value: Vec<u8>,
    /// Bytes of a request not complete yet.
    pub pending: Vec<u8>,
}

impl SmpCharacteristic {
    pub fn interfaces(&self) -> InterfaceMap {
        let props = HashMap::from([
            ("UUID".to_string(), owned(SMP_CHARACTERISTIC.into())),
            ("Service".into(), owned(self.service.clone().into())),
            ("Value".into(), owned(self.value.clone().into())),
            ("Notifying".into(), owned(self.notifying.into())),
            ("Flags".into(), owned(flags().into())),
            ("MTU".into(), owned(MTU.into())),
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
        let limit = crate::zephyr::lock(&self.server).buf_size() as usize;
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

    /// Any `type` option (request, command, reliable) obeys the same rules.
    async fn write_value(
        &mut self,
        value: Vec<u8>,
        _options: HashMap<String, OwnedValue>,
        #[zbus(signal_context)] ctxt: SignalContext<'_>,
    ) -> Result<(), BluezError> {
        super::pairing::check_write(&self.host, &self.peripheral, &self.server)?;
        self.pending.extend_from_slice(&value);
        while let Some(request) = self.next_request() {
            for reply in crate::zephyr::net::answer(&self.server, &request).await {
                for chunk in reply.chunks(usize::from(MTU) - 3) {
                    self.value = chunk.to_vec();
                    if self.notifying {
                        self.value_changed(&ctxt).await?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn start_notify(
        &mut self,
        #[zbus(signal_context)] ctxt: SignalContext<'_>,
    ) -> Result<(), BluezError> {
        if !self.notifying {
            self.notifying = true;
            self.notifying_changed(&ctxt).await?;
        }
        Ok(())
    }

    async fn stop_notify(
        &mut self,
        #[zbus(signal_context)] ctxt: SignalContext<'_>,
    ) -> Result<(), BluezError> {
        if self.notifying {
            self.notifying = false;
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
        self.value.clone()
    }
    #[zbus(property)]
    fn notifying(&self) -> bool {
        self.notifying
    }
    #[zbus(property)]
    fn flags(&self) -> Vec<String> {
        flags()
    }
    #[zbus(property, name = "MTU")]
    fn mtu(&self) -> u16 {
        MTU
    }
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
