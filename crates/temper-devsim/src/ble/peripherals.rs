//! The BLE peripherals the simulated world can hold, one per model: how each advertises (address, name,
//! service UUIDs, manufacturer data, RSSI) and how it pairs (a label passkey or none).

use zbus::zvariant::{OwnedValue, Value};

use super::objects::owned;
use crate::zephyr::{lock, variant::Variant, Shared};

/// MCUmgr's SMP GATT service (Zephyr `CONFIG_MCUMGR_TRANSPORT_BT`).
pub const SMP_SERVICE: &str = "8d53dc1d-1db7-4cd3-868b-8a527460aa84";
/// The ble-plug's configuration service (vendor UUID), the one it advertises.
pub const PLUG_CONFIG_SERVICE: &str = "6e400001-7e4d-4c1a-9f0e-5e1e0c0f1a9e";
/// Company id of the plug's manufacturer data (0xFFFF: the SIG's id for tests and internal use).
pub const PLUG_COMPANY: u16 = 0xFFFF;

/// A peripheral in range of the adapters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peripheral {
    /// The model, as `temper-devsim ble --models` names it.
    pub model: String,
    /// Its address (random static: the two top bits set).
    pub address: String,
    /// Its advertised local name.
    pub name: String,
    /// Advertised service UUIDs (lower-case).
    pub service_uuids: Vec<String>,
    /// Received signal strength at the adapter, dBm.
    pub rssi: i16,
    /// The passkey printed on its label; `None`: it pairs "Just Works" and needs no pairing to be written.
    pub passkey: Option<u32>,
    /// Whether it pairs with BR/EDR-era legacy pairing (`Device1.LegacyPairing`).
    pub legacy_pairing: bool,
}

impl Peripheral {
    /// The peripheral of `model` (`index` makes its address and name unique in one world); `None` for a
    /// model without BLE.
    pub fn of_model(model: &str, index: u8) -> Option<Peripheral> {
        let (name, uuids, rssi, top) = match model {
            "ble-plug" => ("PlugMini", vec![PLUG_CONFIG_SERVICE], -58, 0xD4),
            "zephyr-sensor" => ("NS-ENV1", vec![SMP_SERVICE], -71, 0xE7),
            _ => return None,
        };
        let address = format!("{top:02X}:5A:1E:00:{index:02X}:{:02X}", 0x10 + index);
        Some(Peripheral {
            model: model.into(),
            name: format!("{name}-{:02X}{:02X}", index, 0x10 + index),
            address,
            service_uuids: uuids.into_iter().map(String::from).collect(),
            rssi,
            passkey: None,
            legacy_pairing: false,
        })
    }

    /// The firmware variant that runs on it.
    pub fn variant(&self) -> Variant {
        match self.model.as_str() {
            "ble-plug" => Variant::PlugMini,
            _ => Variant::SensorEnv1,
        }
    }

    /// Whether writes need a bond (a peripheral with a label passkey).
    pub fn needs_bond(&self) -> bool {
        self.passkey.is_some()
    }

    /// `ADAPTER/dev_XX_XX_XX_XX_XX_XX`, its Device1 under the adapter at `adapter`.
    pub fn object_path(&self, adapter: &str) -> String {
        format!("{adapter}/dev_{}", self.address.replace(':', "_"))
    }

    /// Its manufacturer data as `Device1.ManufacturerData` holds it: the plug's
    /// `{0xFFFF: [0x50, 0x4D, 0x01, STATE]}` ("PM", format 1, STATE 0 factory / 1 commissioned); the sensor
    /// advertises none.
    pub fn manufacturer_data(
        &self,
        firmware: &Shared,
    ) -> std::collections::HashMap<u16, OwnedValue> {
        let mut data = std::collections::HashMap::new();
        if self.variant() == Variant::PlugMini {
            let state = u8::from(lock(firmware).app.commissioned());
            let bytes = vec![0x50u8, 0x4D, 0x01, state];
            data.insert(PLUG_COMPANY, owned(Value::from(bytes)));
        }
        data
    }
}

/// A peripheral in range and the firmware that runs on it (one firmware, seen by every adapter).
#[derive(Clone)]
pub struct InRange {
    pub peripheral: Peripheral,
    pub firmware: Shared,
}

/// The 6-digit passkey on the label of the plug with `serial`: a fixed function of the serial (the same at
/// every start of the world).
pub fn label_passkey(serial: &str) -> u32 {
    let h = crate::state::sha256_hex(&format!("ble-plug label passkey:{serial}"));
    u32::from_str_radix(&h[..8], 16).expect("hex") % 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_passkey_is_six_digits_and_stable() {
        let a = label_passkey("0123456789abcdef");
        assert!(a < 1_000_000);
        assert_eq!(a, label_passkey("0123456789abcdef"));
        assert_ne!(a, label_passkey("0123456789abcdee"));
    }
}
