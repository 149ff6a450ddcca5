//! A BLE GATT channel as a [`Link`], through btleplug on BlueZ: MCUmgr's SMP characteristic (write without
//! response, notify; packets) or a Nordic UART Service console (RX written, TX notifying; a byte stream, like a
//! serial port, so the console driver reads it the same way). Writes are at most MTU − 3 bytes; every
//! notification is one `recv`; when BlueZ reports the device disconnected (a link drop), `recv` fails at once
//! with [`TransportError::Closed`] rather than waiting for an answer that cannot come. The MTU is negotiated
//! by BlueZ, not by the client: btleplug 0.11 does not expose it, so it is read from BlueZ's
//! `GattCharacteristic1.MTU` property over D-Bus (zbus).
//!
//! BlueZ is reached on the D-Bus system bus (`DBUS_SYSTEM_BUS_ADDRESS` when set, as with the simulated world
//! of `temper-devsim ble`).

mod bluez;
mod error;
pub mod pairing;
pub mod scan;

use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use btleplug::api::{
    Central as _, CentralEvent, CharPropFlags, Characteristic, Peripheral as _, ValueNotification,
    WriteType,
};
use btleplug::platform::Peripheral;
use futures::{Stream, StreamExt};
use uuid::Uuid;

pub use error::BleError;
pub use pairing::{forget, pair, Bond, Passkey};
pub use scan::{scan, Sighting};

use super::{Link, TransportError};

/// MCUmgr's SMP GATT service.
pub const SMP_SERVICE: Uuid = Uuid::from_u128(0x8d53dc1d_1db7_4cd3_868b_8a527460aa84);
/// MCUmgr's SMP characteristic.
pub const SMP_CHARACTERISTIC: Uuid = Uuid::from_u128(0xda2e7828_fbce_4e01_ae9e_261174997c48);
/// Nordic UART Service: a serial console over GATT.
pub const NUS_SERVICE: Uuid = Uuid::from_u128(0x6e400001_b5a3_f393_e0a9_e50e24dcca9e);
/// NUS RX: the central writes here (the device's receive line).
pub const NUS_RX: Uuid = Uuid::from_u128(0x6e400002_b5a3_f393_e0a9_e50e24dcca9e);
/// NUS TX: the device notifies here (its transmit line).
pub const NUS_TX: Uuid = Uuid::from_u128(0x6e400003_b5a3_f393_e0a9_e50e24dcca9e);
/// The ATT MTU every LE link supports; used when BlueZ reports none.
const DEFAULT_MTU: u16 = 23;

/// Which GATT service a [`BleLink`] carries, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GattChannel {
    /// The service the device advertises and serves.
    pub service: Uuid,
    /// The characteristic written to.
    pub write: Uuid,
    /// The characteristic that notifies.
    pub notify: Uuid,
    /// True when each write and notification is a protocol packet (SMP), false for a byte stream (a console).
    pub packets: bool,
    /// What it is, for messages.
    pub name: &'static str,
}

impl GattChannel {
    /// MCUmgr's SMP characteristic: writes and notifications carry SMP packets (split at the MTU).
    pub const SMP: GattChannel = GattChannel {
        service: SMP_SERVICE,
        write: SMP_CHARACTERISTIC,
        notify: SMP_CHARACTERISTIC,
        packets: true,
        name: "MCUmgr SMP",
    };
    /// Nordic UART Service: a console's bytes, as a serial port carries them.
    pub const NUS: GattChannel = GattChannel {
        service: NUS_SERVICE,
        write: NUS_RX,
        notify: NUS_TX,
        packets: false,
        name: "Nordic UART (NUS)",
    };
}

/// One GATT channel (SMP, or a NUS console) of one connected peripheral.
pub struct BleLink {
    peripheral: Peripheral,
    channel: GattChannel,
    characteristic: Characteristic,
    notifications: Pin<Box<dyn Stream<Item = ValueNotification> + Send>>,
    /// Yields once for each time BlueZ reports this peripheral disconnected.
    disconnects: Pin<Box<dyn Stream<Item = ()> + Send>>,
    mtu: u16,
    address: String,
    advertised: Option<Sighting>,
}

/// Whether BlueZ's error text says the write needs pairing: `org.bluez.Error.NotPermitted` (BlueZ's name for
/// ATT's Insufficient Authentication / Encryption) or the ATT error itself (btleplug passes on the message,
/// not always the error name).
fn refuses_unpaired(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    [
        "org.bluez.error.notpermitted",
        "org.bluez.error.notauthorized",
        "insufficient authentication",
        "insufficient encryption",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

fn failed(what: &str, e: impl std::fmt::Display) -> TransportError {
    TransportError::Io(format!("BLE {what}: {e}"))
}

impl BleLink {
    /// Finds the peripheral `address` (scanning for the SMP service for up to `timeout`), connects, and
    /// subscribes to its SMP characteristic.
    pub async fn open_smp(address: &str, timeout: Duration) -> Result<BleLink, TransportError> {
        BleLink::open(address, GattChannel::SMP, timeout).await
    }

    /// Finds the peripheral `address`, connects, and subscribes to `channel`'s notifying characteristic.
    pub async fn open(
        address: &str,
        channel: GattChannel,
        timeout: Duration,
    ) -> Result<BleLink, TransportError> {
        let open = |reason: String| {
            TransportError::Ble(BleError::Other {
                what: format!("connection to {address}"),
                reason,
            })
        };
        let adapter = scan::adapter().await?;
        let peripheral = scan::find(&adapter, address, vec![channel.service], timeout).await?;
        let advertised = scan::sighting(&peripheral).await;
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
        let find = |uuid: Uuid| {
            peripheral
                .characteristics()
                .into_iter()
                .find(|c| c.uuid == uuid && c.service_uuid == channel.service)
                .ok_or_else(|| open(format!("it has no {} characteristic {uuid}", channel.name)))
        };
        let characteristic = find(channel.write)?;
        let notifying = find(channel.notify)?;
        peripheral.subscribe(&notifying).await.map_err(|e| {
            open(format!(
                "cannot subscribe to {} notifications ({e})",
                channel.name
            ))
        })?;
        let notifications = peripheral
            .notifications()
            .await
            .map_err(|e| open(format!("no notification stream ({e})")))?;
        let mtu = bluez::characteristic_mtu(address, channel.write)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!("BlueZ reports no MTU for {address} ({e}); using {DEFAULT_MTU}");
                DEFAULT_MTU
            });
        Ok(BleLink {
            peripheral,
            channel,
            characteristic,
            notifications,
            disconnects: Box::pin(disconnects),
            mtu,
            address: address.to_string(),
            advertised,
        })
    }

    /// What the device advertised when it was found (name, services, manufacturer data, RSSI).
    pub fn advertised(&self) -> Option<&Sighting> {
        self.advertised.as_ref()
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

#[async_trait]
impl Link for BleLink {
    fn max_send(&self) -> Option<usize> {
        Some(usize::from(self.mtu.saturating_sub(3)).max(1))
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        // Write without response where the characteristic offers it (SMP's does), else a write request.
        let kind = if self
            .characteristic
            .properties
            .contains(CharPropFlags::WRITE_WITHOUT_RESPONSE)
        {
            WriteType::WithoutResponse
        } else {
            WriteType::WithResponse
        };
        self.peripheral
            .write(&self.characteristic, bytes, kind)
            .await
            .map_err(|e| match e {
                btleplug::Error::NotConnected | btleplug::Error::DeviceNotFound => {
                    TransportError::Closed(format!("BLE {} disconnected", self.address))
                }
                // BlueZ's refusal on a dropped link comes through as a D-Bus error.
                other if other.to_string().contains("org.bluez.Error.NotConnected") => {
                    TransportError::Closed(format!("BLE {} disconnected", self.address))
                }
                // A characteristic that needs an encrypted, authenticated link (ATT error 0x05).
                other if refuses_unpaired(&other.to_string()) => {
                    TransportError::Ble(BleError::PairingRequired {
                        address: self.address.clone(),
                    })
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
                Some(n) if n.uuid == self.channel.notify && !n.value.is_empty() => {
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
        self.channel.packets
    }
}

#[cfg(test)]
mod tests {
    use super::refuses_unpaired;

    #[test]
    fn att_authentication_refusals_are_recognised_whatever_the_wording() {
        assert!(refuses_unpaired("Insufficient authentication: pair first"));
        assert!(refuses_unpaired(
            "org.bluez.Error.NotPermitted: Write not permitted"
        ));
        assert!(refuses_unpaired(
            "ATT error: 0x05 (Insufficient Authentication)"
        ));
        assert!(!refuses_unpaired(
            "org.bluez.Error.Failed: Operation failed"
        ));
        assert!(!refuses_unpaired("Not Connected"));
    }
}
