//! The simulated BLE world: a private D-Bus system bus ([`bus`]) with a simulated BlueZ on it ([`bluez`]): one
//! adapter, `hci0`, and the peripherals of the models asked for ([`peripherals`]), found when discovery runs.
//! Real BlueZ clients (bluetoothctl, bleak, btleplug) see it once `DBUS_SYSTEM_BUS_ADDRESS` points at the bus.
//!
//! The zephyr-sensor's peripheral carries MCUmgr's SMP GATT service ([`gatt`]), answered by a sensor of its
//! own (state in `DIR/zephyr-sensor-N`, network services on its loopback address), over a radio link with a
//! connection interval, PDUs per event and an MTU ([`radio`], [`link`]); links drop on request ([`sim`]) or
//! on a planned fault. Not yet: pairing through the registered agent, the ble-plug's services.

pub mod acquire;
pub mod advertising;
pub mod bluez;
pub mod bus;
pub mod device;
pub mod gatt;
pub mod link;
pub mod objects;
pub mod peripherals;
pub mod radio;
pub mod sim;

use std::path::Path;

use serde::Serialize;
use zbus::Connection;

use crate::SimError;
use bluez::{Adapter, AgentManager, Agents, ADAPTER_PATH};
use bus::PrivateBus;
use peripherals::Peripheral;

/// The adapter's address.
pub const ADAPTER_ADDRESS: &str = "00:1A:7D:DA:71:13";
/// The adapter's name.
pub const ADAPTER_NAME: &str = "temper-sim";

/// What `temper-devsim ble` prints: where the bus is and what is in range.
#[derive(Debug, Serialize)]
pub struct WorldInfo {
    /// `unix:path=...`: export it as `DBUS_SYSTEM_BUS_ADDRESS`.
    pub bus: String,
    pub adapter: AdapterInfo,
    pub devices: Vec<DeviceInfo>,
    /// The radio links' parameters.
    pub radio: radio::RadioParams,
}

#[derive(Debug, Serialize)]
pub struct AdapterInfo {
    pub path: String,
    pub address: String,
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct DeviceInfo {
    pub model: String,
    pub address: String,
    pub name: String,
    pub path: String,
}

/// A running simulated BLE world; dropping it stops the bus.
pub struct World {
    pub info: WorldInfo,
    pub agents: Agents,
    _conn: Connection,
    _bus: PrivateBus,
}

impl World {
    /// Starts the bus in `dir`, then BlueZ with the peripherals of `models` (in order; an unknown model or a
    /// model without BLE is an error naming the ones that have it).
    pub async fn start(dir: &Path, models: &[String]) -> Result<World, SimError> {
        Self::start_with_radio(dir, models, radio::RadioOptions::default()).await
    }

    /// As [`World::start`], the peripherals' radio links with `radio`'s timing and fault.
    pub async fn start_with_radio(
        dir: &Path,
        models: &[String],
        radio: radio::RadioOptions,
    ) -> Result<World, SimError> {
        radio
            .params
            .validate()
            .map_err(|e| SimError::Setup(e.to_string()))?;
        let faults = std::sync::Arc::new(link::Faults::new(radio.drop_after));
        let mut in_range = Vec::new();
        for (i, model) in models.iter().enumerate() {
            let peripheral = Peripheral::of_model(model, i as u8).ok_or_else(|| {
                SimError::Setup(format!(
                    "model {model:?} has no BLE side; BLE models: ble-plug, zephyr-sensor"
                ))
            })?;
            in_range.push(peripheral);
        }
        let bus = PrivateBus::start(dir)?;
        let mut smp_servers = std::collections::HashMap::new();
        for (i, p) in in_range.iter().enumerate() {
            if p.model == "zephyr-sensor" {
                let opts = crate::SimOptions::new(
                    crate::Model::ZephyrSensor,
                    dir.join(format!("zephyr-sensor-{i}")),
                );
                let server = crate::zephyr::start_without_uart(&opts).await?;
                let link = link::RadioLink::new(radio.params, p.object_path(), faults.clone());
                let backend = gatt::SmpBackend {
                    server,
                    link: std::sync::Arc::new(link),
                };
                smp_servers.insert(p.object_path(), backend);
            }
        }
        let agents = Agents::default();
        let objects = objects::ObjectManager::default();
        let adapter = Adapter {
            objects: objects.clone(),
            address: ADAPTER_ADDRESS.into(),
            name: ADAPTER_NAME.into(),
            powered: true,
            smp_servers,
            discovery_clients: Vec::new(),
            in_range: in_range.clone(),
            found: false,
        };
        let conn = zbus::connection::Builder::address(bus.address())?
            .name("org.bluez")?
            .serve_at("/", objects)?
            .serve_at(
                "/org/bluez",
                AgentManager {
                    agents: agents.clone(),
                },
            )?
            .serve_at(ADAPTER_PATH, adapter)?
            .serve_at(ADAPTER_PATH, sim::SimControl)?
            .build()
            .await?;
        let info = WorldInfo {
            bus: bus.address().to_string(),
            adapter: AdapterInfo {
                path: ADAPTER_PATH.into(),
                address: ADAPTER_ADDRESS.into(),
                name: ADAPTER_NAME.into(),
            },
            devices: in_range
                .iter()
                .map(|p| DeviceInfo {
                    model: p.model.clone(),
                    address: p.address.clone(),
                    name: p.name.clone(),
                    path: p.object_path(),
                })
                .collect(),
            radio: radio.params,
        };
        Ok(World {
            info,
            agents,
            _conn: conn,
            _bus: bus,
        })
    }
}
