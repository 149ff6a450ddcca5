//! The Device Information Service (0x180A) of the ble-plug: Model Number String (0x2A24, "PM-1"), Serial Number
//! String (0x2A25, the firmware's serial) and Firmware Revision String (0x2A26, the version of the image that
//! runs), each readable by anyone (`ReadValue`, honouring the `offset` option) and read from the firmware at
//! each read.

use std::collections::HashMap;

use zbus::zvariant::{OwnedObjectPath, OwnedValue};

use super::bluez::BluezError;
use super::objects::{owned, InterfaceMap};
use crate::zephyr::{lock, Shared};

/// The Device Information Service.
pub const DIS_SERVICE: &str = "0000180a-0000-1000-8000-00805f9b34fb";

/// A field of the Device Information Service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    ModelNumber,
    SerialNumber,
    FirmwareRevision,
}

impl Field {
    pub const ALL: [Field; 3] = [
        Field::ModelNumber,
        Field::SerialNumber,
        Field::FirmwareRevision,
    ];

    /// Its characteristic UUID.
    pub fn uuid(self) -> &'static str {
        match self {
            Field::ModelNumber => "00002a24-0000-1000-8000-00805f9b34fb",
            Field::SerialNumber => "00002a25-0000-1000-8000-00805f9b34fb",
            Field::FirmwareRevision => "00002a26-0000-1000-8000-00805f9b34fb",
        }
    }

    /// Its value now.
    pub fn value(self, firmware: &Shared) -> Vec<u8> {
        let server = lock(firmware);
        let text = match self {
            Field::ModelNumber => server.app.variant.model_name().to_string(),
            Field::SerialNumber => server.state.serial.clone(),
            Field::FirmwareRevision => server
                .image_state()
                .images
                .into_iter()
                .find(|s| s.active)
                .map_or_else(|| "0.0.0".to_string(), |s| s.version),
        };
        text.into_bytes()
    }
}

/// Object paths of the service and of its characteristics (in [`Field::ALL`] order) under `device`.
pub fn dis_paths(device: &str) -> (String, Vec<String>) {
    let service = format!("{device}/service0020");
    let chars = (0..Field::ALL.len())
        .map(|i| format!("{service}/char{:04x}", 0x21 + 2 * i))
        .collect();
    (service, chars)
}

/// `org.bluez.GattCharacteristic1` of one read-only field.
pub struct ReadCharacteristic {
    pub field: Field,
    pub service: OwnedObjectPath,
    pub firmware: Shared,
}

fn flags() -> Vec<String> {
    vec!["read".into()]
}

impl ReadCharacteristic {
    pub fn interfaces(&self) -> InterfaceMap {
        let props = HashMap::from([
            ("UUID".to_string(), owned(self.field.uuid().into())),
            ("Service".into(), owned(self.service.clone().into())),
            ("Value".into(), owned(Vec::<u8>::new().into())),
            ("Notifying".into(), owned(false.into())),
            ("Flags".into(), owned(flags().into())),
            ("MTU".into(), owned(super::gatt::MTU.into())),
        ]);
        HashMap::from([("org.bluez.GattCharacteristic1".to_string(), props)])
    }
}

/// The `offset` option of a read, 0 when absent.
pub fn offset(options: &HashMap<String, OwnedValue>) -> usize {
    options
        .get("offset")
        .and_then(|v| u16::try_from(v).ok())
        .map_or(0, usize::from)
}

#[zbus::interface(name = "org.bluez.GattCharacteristic1")]
impl ReadCharacteristic {
    async fn read_value(
        &self,
        options: HashMap<String, OwnedValue>,
    ) -> Result<Vec<u8>, BluezError> {
        let value = self.field.value(&self.firmware);
        let at = offset(&options);
        if at > value.len() {
            return Err(BluezError::InvalidOffset("Invalid offset".into()));
        }
        Ok(value[at..].to_vec())
    }

    async fn write_value(
        &self,
        _value: Vec<u8>,
        _options: HashMap<String, OwnedValue>,
    ) -> Result<(), BluezError> {
        Err(BluezError::NotPermitted("Write not permitted".into()))
    }

    async fn start_notify(&self) -> Result<(), BluezError> {
        Err(BluezError::NotSupported(
            "Operation is not supported".into(),
        ))
    }

    async fn stop_notify(&self) -> Result<(), BluezError> {
        Err(BluezError::NotSupported(
            "Operation is not supported".into(),
        ))
    }

    #[zbus(property, name = "UUID")]
    fn uuid(&self) -> String {
        self.field.uuid().into()
    }
    #[zbus(property)]
    fn service(&self) -> OwnedObjectPath {
        self.service.clone()
    }
    #[zbus(property)]
    fn value(&self) -> Vec<u8> {
        Vec::new()
    }
    #[zbus(property)]
    fn notifying(&self) -> bool {
        false
    }
    #[zbus(property)]
    fn flags(&self) -> Vec<String> {
        flags()
    }
    #[zbus(property, name = "MTU")]
    fn mtu(&self) -> u16 {
        super::gatt::MTU
    }
}
