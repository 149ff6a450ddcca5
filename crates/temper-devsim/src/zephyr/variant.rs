//! The products built on the Zephyr firmware model: what differs between them. Everything else (SMP groups,
//! MCUboot, the shell, TLS credentials with the client certificate slot, the HTTP Digest admin) is shared.
//!
//! - [`Variant::SensorEnv1`]: the Nordsense NS-ENV1 `zephyr-sensor` (console UART, telnet shell, SMP over UDP).
//! - [`Variant::PlugMini`]: the PlugMini PM-1 `ble-plug`, a Zephyr/nRF smart plug managed by MCUmgr SMP over
//!   BLE; on its loopback address the HTTP Digest admin (tcp/80) and UPnP (SSDP on udp/1900, the description
//!   document on tcp/49152) while `net/upnp` is "1".

use super::settings::{ADMIN_PW, MCUMGR_UDP, MQTT_BROKER, NET_TELNET, NET_UPNP};

/// One product of the firmware model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Variant {
    /// Nordsense NS-ENV1, the `zephyr-sensor`.
    #[default]
    SensorEnv1,
    /// PlugMini PM-1, the `ble-plug`.
    PlugMini,
}

/// The sensor's settings and their factory values.
pub const SENSOR_FACTORY: &[(&str, &str)] = &[
    (ADMIN_PW, "nordsense"),
    (NET_TELNET, "1"),
    (MCUMGR_UDP, "1"),
    (MQTT_BROKER, "mqtt.nordsense.example:8883"),
];

/// The plug's settings and their factory values (no telnet, no SMP over UDP).
pub const PLUG_FACTORY: &[(&str, &str)] = &[
    (ADMIN_PW, "plugmini"),
    (NET_UPNP, "1"),
    (MQTT_BROKER, "mqtt.plugmini.example:8883"),
];

impl Variant {
    /// The model id its `state.json` records (as `temper-devsim` names the model).
    pub fn model_id(self) -> &'static str {
        match self {
            Variant::SensorEnv1 => "zephyr-sensor",
            Variant::PlugMini => "ble-plug",
        }
    }

    /// The model name: `app info`'s `model:`, the Digest realm, the BLE Model Number String.
    pub fn model_name(self) -> &'static str {
        match self {
            Variant::SensorEnv1 => "NS-ENV1",
            Variant::PlugMini => "PM-1",
        }
    }

    /// The HTTP Digest realm of the admin page.
    pub fn http_realm(self) -> &'static str {
        self.model_name()
    }

    /// The vendor, as the admin page and the UPnP description name it.
    pub fn vendor(self) -> &'static str {
        match self {
            Variant::SensorEnv1 => "Nordsense",
            Variant::PlugMini => "PlugMini",
        }
    }

    /// The board name (`os_mgmt_info` letter `i`).
    pub fn board(self) -> &'static str {
        match self {
            Variant::SensorEnv1 => "ns_env1",
            Variant::PlugMini => "pm1_nrf52840",
        }
    }

    /// The processor (`os_mgmt_info` letter `p`).
    pub fn processor(self) -> &'static str {
        match self {
            Variant::SensorEnv1 => "cortex-m33",
            Variant::PlugMini => "cortex-m4",
        }
    }

    /// Its settings and their factory values.
    pub fn factory(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Variant::SensorEnv1 => SENSOR_FACTORY,
            Variant::PlugMini => PLUG_FACTORY,
        }
    }

    /// The factory value of `name`; `None` for a setting it does not have.
    pub fn factory_value(self, name: &str) -> Option<&'static str> {
        self.factory()
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plug_has_upnp_and_no_telnet_the_sensor_the_reverse() {
        let plug = Variant::PlugMini;
        assert_eq!(plug.factory_value(ADMIN_PW), Some("plugmini"));
        assert_eq!(plug.factory_value(NET_UPNP), Some("1"));
        assert_eq!(plug.factory_value(NET_TELNET), None);
        assert_eq!(plug.factory_value(MCUMGR_UDP), None);
        let sensor = Variant::SensorEnv1;
        assert_eq!(sensor.factory_value(ADMIN_PW), Some("nordsense"));
        assert_eq!(sensor.factory_value(NET_UPNP), None);
        assert_eq!(sensor.model_id(), crate::Model::ZephyrSensor.id());
    }
}
