//! `org.bluez.GattDescriptor1`: the Client Characteristic Configuration descriptor (0x2902) of a notifying
//! characteristic, with its `Characteristic` property. Its value (2 bytes, little endian: bit 0 notifications)
//! follows the characteristic's `Notifying`; clients switch it with StartNotify/StopNotify, and a write of
//! it through `WriteValue` is refused, as BlueZ refuses it.

use std::collections::HashMap;

use zbus::zvariant::{OwnedObjectPath, OwnedValue};

use super::bluez::BluezError;
use super::gatt::SmpCharacteristic;
use super::nus::NusTx;
use super::objects::{owned, InterfaceMap};

/// The CCCD.
pub const CCCD: &str = "00002902-0000-1000-8000-00805f9b34fb";

/// The CCCD of one characteristic.
pub struct Cccd {
    pub characteristic: OwnedObjectPath,
}

fn flags() -> Vec<String> {
    vec!["read".into(), "write".into()]
}

impl Cccd {
    pub fn interfaces(&self) -> InterfaceMap {
        let props = HashMap::from([
            ("UUID".to_string(), owned(CCCD.into())),
            (
                "Characteristic".into(),
                owned(self.characteristic.clone().into()),
            ),
            ("Value".into(), owned(Vec::<u8>::new().into())),
            ("Flags".into(), owned(flags().into())),
        ]);
        HashMap::from([("org.bluez.GattDescriptor1".to_string(), props)])
    }
}

#[zbus::interface(name = "org.bluez.GattDescriptor1")]
impl Cccd {
    async fn read_value(
        &self,
        _options: HashMap<String, OwnedValue>,
        #[zbus(object_server)] server: &zbus::ObjectServer,
    ) -> Result<Vec<u8>, BluezError> {
        let path = self.characteristic.as_str();
        let notifying = match server.interface::<_, SmpCharacteristic>(path).await {
            Ok(c) => c.get().await.is_notifying(),
            Err(_) => match server.interface::<_, NusTx>(path).await {
                Ok(c) => c.get().await.is_notifying(),
                Err(_) => false,
            },
        };
        Ok(vec![u8::from(notifying), 0])
    }

    async fn write_value(
        &self,
        _value: Vec<u8>,
        _options: HashMap<String, OwnedValue>,
    ) -> Result<(), BluezError> {
        Err(BluezError::NotPermitted(
            "Write not permitted: use StartNotify".into(),
        ))
    }

    #[zbus(property, name = "UUID")]
    fn uuid(&self) -> String {
        CCCD.into()
    }
    #[zbus(property)]
    fn characteristic(&self) -> OwnedObjectPath {
        self.characteristic.clone()
    }
    #[zbus(property)]
    fn value(&self) -> Vec<u8> {
        Vec::new()
    }
    #[zbus(property)]
    fn flags(&self) -> Vec<String> {
        flags()
    }
}
