//! The BLE peripherals the simulated world can hold, one per model: how each advertises (address, name,
//! service UUIDs, RSSI).

use super::bluez::ADAPTER_PATH;

/// MCUmgr's SMP GATT service (Zephyr `CONFIG_MCUMGR_TRANSPORT_BT`).
pub const SMP_SERVICE: &str = "8d53dc1d-1db7-4cd3-868b-8a527460aa84";
/// The ble-plug's configuration service (vendor UUID).
pub const PLUG_CONFIG_SERVICE: &str = "6e400001-7e4d-4c1a-9f0e-5e1e0c0f1a9e";

/// A peripheral in range of the adapter.
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
        })
    }

    /// `/org/bluez/hci0/dev_XX_XX_XX_XX_XX_XX`.
    pub fn object_path(&self) -> String {
        format!("{ADAPTER_PATH}/dev_{}", self.address.replace(':', "_"))
    }
}
