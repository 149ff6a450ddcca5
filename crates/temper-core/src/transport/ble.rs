//! A BLE GATT characteristic as a [`Link`], through btleplug on BlueZ: MCUmgr's SMP characteristic (write
//! without response, notify). Requests go out in writes of at most MTU − 3 bytes; every notification is one
//! `recv`; when BlueZ reports the device disconnected (a link drop), `recv` fails at once with
//! [`TransportError::Closed`] rather than waiting for an answer that cannot come. The MTU is negotiated by BlueZ, not by the client: btleplug 0.11 does not expose it, so it is read
//! from BlueZ's `GattCharacteristic1.MTU` property over D-Bus (zbus).
//!
//! BlueZ is reached on the D-Bus system bus (`DBUS_SYSTEM_BUS_ADDRESS` when set, as with the simulated world
//! of `temper-devsim ble`).

use std::collections::HashMap;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use btleplug::api::{
    Central, CentralEvent, CentralState, Characteristic, Manager as _, Peripheral as _, ScanFilter,
    ValueNotification, WriteType,
};
use btleplug::platform::{Manager, Peripheral};
use futures::{Stream, StreamExt};
use uuid::Uuid;
use zbus::zvariant::{OwnedObjectPath, OwnedValue};

use super::{Link, TransportError};

/// MCUmgr's SMP GATT service.
pub const SMP_SERVICE: Uuid = Uuid::from_u128(0x8d53dc1d_1db7_4cd3_868b_8a527460aa84);
/// MCUmgr's SMP characteristic.
pub const SMP_CHARACTERISTIC: Uuid = Uuid::from_u128(0xda2e7828_fbce_4e01_ae9e_261174997c48);
/// The ATT MTU every LE link supports; used when BlueZ reports none.
const DEFAULT_MTU: u16 = 23;

/// The SMP characteristic of one connected peripheral.
pub struct BleLink {
    peripheral: Peripheral,
    characteristic: Characteristic,
    notifications: Pin<Box<dyn Stream<Item = ValueNotification> + Send>>,
    /// Yields once for each time BlueZ reports this peripheral disconnected.
    disconnects: Pin<Box<dyn Stream<Item = ()> + Send>>,
    mtu: u16,
    address: String,
}

fn failed(what: &str, e: impl std::fmt::Display) -> TransportError {
    TransportError::Io(format!("BLE {what}: {e}"))
}

impl BleLink {
    /// Finds the peripheral `address` (scanning for the SMP service for up to `timeout`), connects, and
    /// subscribes to its SMP characteristic.
    pub async fn open_smp(address: &str, timeout: Duration) -> Result<BleLink, TransportError> {
        let open = |reason: String| TransportError::Open {
            port: format!("BLE {address}"),
            reason,
        };
        let manager = Manager::new()
            .await
            .map_err(|e| open(format!("BlueZ is not reachable on the system bus ({e})")))?;
        let adapter = manager
            .adapters()
            .await
            .map_err(|e| open(format!("cannot list Bluetooth adapters ({e})")))?
            .into_iter()
            .next()
            .ok_or_else(|| open("no Bluetooth adapter".into()))?;
        if adapter.adapter_state().await.ok() == Some(CentralState::PoweredOff) {
            return Err(open("Bluetooth is off: turn it on and try again".into()));
        }
        // Subscribed before the scan starts, so no discovery is missed.
        let mut events = adapter
            .events()
            .await
            .map_err(|e| open(format!("no adapter events ({e})")))?;
        let filter = ScanFilter {
            services: vec![SMP_SERVICE],
        };
        adapter
            .start_scan(filter)
            .await
            .map_err(|e| open(format!("cannot scan ({e})")))?;
        let deadline = tokio::time::Instant::now() + timeout;
        let is_it = |p: &Peripheral| p.address().to_string().eq_ignore_ascii_case(address);
        // Known already (an earlier scan), else the discovery or update event that names it.
        let mut found = adapter
            .peripherals()
            .await
            .unwrap_or_default()
            .into_iter()
            .find(is_it);
        while found.is_none() {
            let event = tokio::time::timeout_at(deadline, events.next()).await;
            let id = match event {
                Ok(Some(CentralEvent::DeviceDiscovered(id) | CentralEvent::DeviceUpdated(id))) => {
                    id
                }
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => break,
            };
            found = adapter.peripheral(&id).await.ok().filter(is_it);
        }
        let _ = adapter.stop_scan().await;
        let peripheral = found.ok_or_else(|| {
            open(format!(
                "not found within {} s: is it powered and in range?",
                timeout.as_secs()
            ))
        })?;
        peripheral
            .connect()
            .await
            .map_err(|e| open(format!("cannot connect ({e})")))?;
        let id = peripheral.id();
        let disconnects = adapter
            .events()
            .await
            .map_err(|e| open(format!("no adapter events ({e})")))?
            .filter_map(move |event| {
                let gone = matches!(event, CentralEvent::DeviceDisconnected(ref d) if *d == id);
                std::future::ready(gone.then_some(()))
            });
        peripheral
            .discover_services()
            .await
            .map_err(|e| open(format!("service discovery failed ({e})")))?;
        let characteristic = peripheral
            .characteristics()
            .into_iter()
            .find(|c| c.uuid == SMP_CHARACTERISTIC)
            .ok_or_else(|| open("it has no MCUmgr SMP characteristic".into()))?;
        peripheral
            .subscribe(&characteristic)
            .await
            .map_err(|e| open(format!("cannot subscribe to SMP notifications ({e})")))?;
        let notifications = peripheral
            .notifications()
            .await
            .map_err(|e| open(format!("no notification stream ({e})")))?;
        let mtu = bluez_mtu(address, SMP_CHARACTERISTIC)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!("BlueZ reports no MTU for {address} ({e}); using {DEFAULT_MTU}");
                DEFAULT_MTU
            });
        Ok(BleLink {
            peripheral,
            characteristic,
            notifications,
            disconnects: Box::pin(disconnects),
            mtu,
            address: address.to_string(),
        })
    }

    /// The ATT MTU BlueZ negotiated.
    pub fn mtu(&self) -> u16 {
        self.mtu
    }

    /// Disconnects.
    pub async fn close(self) -> Result<(), TransportError> {
        self.peripheral
            .disconnect()
            .await
            .map_err(|e| failed("disconnect", e))
    }
}

/// The `MTU` property of the characteristic `uuid` of device `address`, read from BlueZ over D-Bus.
async fn bluez_mtu(address: &str, uuid: Uuid) -> zbus::Result<u16> {
    type Interfaces = HashMap<String, HashMap<String, OwnedValue>>;
    let conn = zbus::Connection::system().await?;
    let proxy = zbus::fdo::ObjectManagerProxy::builder(&conn)
        .destination("org.bluez")?
        .path("/")?
        .build()
        .await?;
    let objects: HashMap<OwnedObjectPath, Interfaces> = proxy
        .get_managed_objects()
        .await?
        .into_iter()
        .map(|(path, ifaces)| {
            let ifaces = ifaces
                .into_iter()
                .map(|(name, props)| (name.to_string(), props))
                .collect();
            (path, ifaces)
        })
        .collect();
    let device = format!("/dev_{}/", address.to_ascii_uppercase().replace(':', "_"));
    let wanted = uuid.to_string();
    for (path, ifaces) in &objects {
        if !path.as_str().contains(&device) {
            continue;
        }
        let Some(props) = ifaces.get("org.bluez.GattCharacteristic1") else {
            continue;
        };
        let same = props
            .get("UUID")
            .and_then(|v| String::try_from(v.try_clone().ok()?).ok())
            .is_some_and(|u| u.eq_ignore_ascii_case(&wanted));
        if let (true, Some(mtu)) = (same, props.get("MTU")) {
            return u16::try_from(mtu.try_clone()?).map_err(zbus::Error::from);
        }
    }
    Err(zbus::Error::Failure(format!(
        "no characteristic {wanted} with an MTU under {device}"
    )))
}

#[async_trait]
impl Link for BleLink {
    fn max_send(&self) -> Option<usize> {
        Some(usize::from(self.mtu.saturating_sub(3)).max(1))
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.peripheral
            .write(&self.characteristic, bytes, WriteType::WithoutResponse)
            .await
            .map_err(|e| match e {
                btleplug::Error::NotConnected | btleplug::Error::DeviceNotFound => {
                    TransportError::Closed(format!("BLE {} disconnected", self.address))
                }
                // BlueZ's refusal on a dropped link comes through as a D-Bus error.
                other if other.to_string().contains("org.bluez.Error.NotConnected") => {
                    TransportError::Closed(format!("BLE {} disconnected", self.address))
                }
                other => failed("write", other),
            })
    }

    async fn recv(&mut self, buf: &mut Vec<u8>) -> Result<usize, TransportError> {
        loop {
            // Notifications that came before the drop are delivered first.
            let n = tokio::select! {
                biased;
                n = self.notifications.next() => n,
                Some(()) = self.disconnects.next() => {
                    return Err(TransportError::Closed(format!(
                        "BLE {} disconnected",
                        self.address
                    )))
                }
            };
            match n {
                Some(n) if n.uuid == SMP_CHARACTERISTIC && !n.value.is_empty() => {
                    buf.extend_from_slice(&n.value);
                    return Ok(n.value.len());
                }
                Some(_) => continue,
                None => {
                    return Err(TransportError::Closed(format!(
                        "BLE {} stopped notifying (disconnected)",
                        self.address
                    )))
                }
            }
        }
    }

    fn describe(&self) -> String {
        format!("BLE {}", self.address)
    }

    fn carries_packets(&self) -> bool {
        true
    }
}
