//! The simulated BLE world: a private D-Bus system bus ([`bus`]) with a simulated BlueZ on it ([`bluez`]): one
//! or more adapters (`hci0`, `hci1`, ... each with its own discovery, Device objects and bonds) and the
//! peripherals of the models asked for ([`peripherals`]), found when an adapter's discovery runs. Real BlueZ
//! clients (bluetoothctl, bleak, btleplug) see it once `DBUS_SYSTEM_BUS_ADDRESS` points at the bus.
//!
//! Every peripheral is powered by a firmware of its own ([`crate::zephyr`], the variant of its model; state in
//! `DIR/MODEL-N`, network services on its own loopback address) and carries MCUmgr's SMP GATT service
//! ([`gatt`], laid out by [`layout`], with the CCCD of [`descriptor`]). The zephyr-sensor pairs "Just Works"
//! and takes writes from anyone. The ble-plug (PlugMini PM-1) also carries the Device Information Service
//! ([`dis`]) and the Nordic UART Service with the Zephyr shell as a byte stream ([`nus`], as
//! `CONFIG_SHELL_BT_NUS` does: lines written to RX, their output and the prompt `uart:~$ ` notified on TX),
//! advertises its state in its manufacturer data, pairs with the passkey on its label through the registered
//! agent ([`agent`], [`pairing`]) and takes SMP and NUS writes only from bonded centrals; once commissioned
//! (admin password changed and committed) it refuses new pairings. Bonds persist: the adapters' side in
//! `DIR/bonds.json` ([`bonds`]), the plug's side in its firmware state.
//!
//! Every link between an adapter and a peripheral has a connection interval, PDUs per event and an MTU
//! ([`radio`], [`link`]): writes and notifications take their slots; links drop on request ([`sim`]:
//! `org.temper.Sim1.DropLink` on each adapter) or on a planned fault (`--drop-after`).
//!
//! Not modelled: packet loss, the plug's button, LE Secure Connections key exchange.

pub mod acquire;
pub mod advertising;
pub mod agent;
pub mod bluez;
pub mod bonds;
pub mod bus;
pub mod clients;
pub mod descriptor;
pub mod device;
pub mod dis;
pub mod gatt;
pub mod host;
pub mod layout;
pub mod link;
pub mod nus;
pub mod objects;
pub mod pairing;
pub mod peripherals;
pub mod radio;
pub mod sim;

use std::path::{Path, PathBuf};

use serde::Serialize;
use zbus::Connection;

use crate::zephyr::lock;
use crate::SimError;
use agent::Agents;
use bluez::{Adapter, AgentManager};
use bonds::Bonds;
use bus::PrivateBus;
use host::Host;
use peripherals::{label_passkey, InRange, Peripheral};

/// The first adapter's address (the others count up from it).
pub const ADAPTER_ADDRESS: &str = "00:1A:7D:DA:71:13";
/// The first adapter's name (the others: `temper-sim-2`, ...).
pub const ADAPTER_NAME: &str = "temper-sim";
/// The most adapters a world can have.
pub const MAX_ADAPTERS: usize = 8;

/// How to build the world beyond the models in range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorldOptions {
    /// Adapters `hci0` .. `hci{N-1}` (1 ..= [`MAX_ADAPTERS`]).
    pub adapters: usize,
    /// The ble-plug pairs with legacy pairing (`Device1.LegacyPairing` true); a central should refuse it.
    pub legacy_pairing: bool,
    /// Every link's timing, and the planned fault.
    pub radio: radio::RadioOptions,
}

impl Default for WorldOptions {
    fn default() -> Self {
        WorldOptions {
            adapters: 1,
            legacy_pairing: false,
            radio: radio::RadioOptions::default(),
        }
    }
}

/// What `temper-devsim ble` prints: where the bus is and what is in range.
#[derive(Debug, Serialize)]
pub struct WorldInfo {
    /// `unix:path=...`: export it as `DBUS_SYSTEM_BUS_ADDRESS`.
    pub bus: String,
    /// The first adapter, `hci0` (also `adapters[0]`).
    pub adapter: AdapterInfo,
    /// Every adapter, `hci0` first.
    pub adapters: Vec<AdapterInfo>,
    pub devices: Vec<DeviceInfo>,
    /// The radio links' parameters.
    pub radio: radio::RadioParams,
}

#[derive(Debug, Clone, Serialize)]
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
    /// Its Device1 under `hci0`.
    pub path: String,
    /// The firmware's serial (16 hex digits).
    pub serial: String,
    /// The 6-digit passkey on its label; `None` (JSON `null`) for a peripheral that needs no pairing.
    pub passkey: Option<String>,
    pub legacy_pairing: bool,
    /// The firmware's state directory.
    pub state_dir: PathBuf,
    /// The loopback address its network services listen on.
    pub ip: String,
}

/// A running simulated BLE world; dropping it stops the bus.
pub struct World {
    pub info: WorldInfo,
    pub agents: Agents,
    _conn: Connection,
    _bus: PrivateBus,
}

/// The adapter `index` (0: hci0).
fn adapter_info(index: usize) -> AdapterInfo {
    let last = 0x13 + index;
    AdapterInfo {
        path: format!("/org/bluez/hci{index}"),
        address: format!("00:1A:7D:DA:71:{last:02X}"),
        name: match index {
            0 => ADAPTER_NAME.to_string(),
            n => format!("{ADAPTER_NAME}-{}", n + 1),
        },
    }
}

/// Powers the firmware of each peripheral of `models` (state in `DIR/MODEL-N`); an unknown model or a model
/// without BLE is an error naming the ones that have it.
async fn power_peripherals(
    dir: &Path,
    models: &[String],
    opts: WorldOptions,
) -> Result<Vec<InRange>, SimError> {
    let mut in_range = Vec::new();
    for (i, model) in models.iter().enumerate() {
        let mut peripheral = Peripheral::of_model(model, i as u8).ok_or_else(|| {
            SimError::Setup(format!(
                "model {model:?} has no BLE side; BLE models: ble-plug, zephyr-sensor"
            ))
        })?;
        let variant = peripheral.variant();
        let sim =
            crate::SimOptions::new(crate::Model::ZephyrSensor, dir.join(format!("{model}-{i}")));
        let firmware = crate::zephyr::start_without_uart(&sim, variant).await?;
        if variant == crate::zephyr::variant::Variant::PlugMini {
            peripheral.passkey = Some(label_passkey(&lock(&firmware).state.serial));
            peripheral.legacy_pairing = opts.legacy_pairing;
        }
        in_range.push(InRange {
            peripheral,
            firmware,
        });
    }
    Ok(in_range)
}

impl World {
    /// Starts the bus in `dir`, then BlueZ with `opts.adapters` adapters and the peripherals of `models` (in
    /// order), each powered by its firmware.
    pub async fn start(
        dir: &Path,
        models: &[String],
        opts: WorldOptions,
    ) -> Result<World, SimError> {
        if !(1..=MAX_ADAPTERS).contains(&opts.adapters) {
            return Err(SimError::Setup(format!(
                "--adapters must be 1 to {MAX_ADAPTERS}"
            )));
        }
        std::fs::create_dir_all(dir).map_err(|e| SimError::io(dir.display().to_string(), e))?;
        opts.radio
            .params
            .validate()
            .map_err(|e| SimError::Setup(e.to_string()))?;
        let faults = std::sync::Arc::new(link::Faults::new(opts.radio.drop_after));
        let in_range = power_peripherals(dir, models, opts).await?;
        let bonds = Bonds::load(dir)?;
        let bus = PrivateBus::start(dir)?;
        let agents = Agents::default();
        let infos: Vec<AdapterInfo> = (0..opts.adapters).map(adapter_info).collect();
        let objects = objects::ObjectManager::new(infos.iter().map(|a| a.path.clone()).collect());
        let mut builder = zbus::connection::Builder::address(bus.address())?
            .name("org.bluez")?
            .serve_at("/", objects.clone())?
            .serve_at(
                "/org/bluez",
                AgentManager {
                    agents: agents.clone(),
                },
            )?;
        let mut adapters = Vec::new();
        for a in &infos {
            let adapter = Adapter {
                host: Host {
                    path: a.path.clone(),
                    address: a.address.clone(),
                    objects: objects.clone(),
                    bonds: bonds.clone(),
                    agents: agents.clone(),
                    radio: opts.radio.params,
                    faults: faults.clone(),
                },
                name: a.name.clone(),
                powered: true,
                discovery_clients: Vec::new(),
                in_range: in_range.clone(),
            };
            adapters.push(adapter.host.clone());
            builder = builder.serve_at(a.path.as_str(), adapter)?.serve_at(
                a.path.as_str(),
                sim::SimControl {
                    adapter: a.path.clone(),
                },
            )?;
        }
        let conn = builder.build().await?;
        let watched = conn.clone();
        let paths: Vec<String> = infos.iter().map(|a| a.path.clone()).collect();
        tokio::spawn(async move {
            if let Err(e) = clients::watch_vanished(watched, paths).await {
                tracing::warn!("watching clients leave the bus: {e}");
            }
        });
        for (host, a) in adapters.iter().zip(&infos) {
            let adapter = conn
                .object_server()
                .interface::<_, Adapter>(a.path.as_str())
                .await?;
            adapter.get().await.add_bonded(&conn).await?;
            tracing::debug!(
                "{} holds {} bonds",
                host.path,
                host.bonds.of(&host.address).len()
            );
        }
        let devices = in_range
            .iter()
            .map(|r| {
                let p = &r.peripheral;
                let fw = lock(&r.firmware);
                DeviceInfo {
                    model: p.model.clone(),
                    address: p.address.clone(),
                    name: p.name.clone(),
                    path: p.object_path(&infos[0].path),
                    serial: fw.state.serial.clone(),
                    passkey: p.passkey.map(|k| format!("{k:06}")),
                    legacy_pairing: p.legacy_pairing,
                    state_dir: fw.dir().to_path_buf(),
                    ip: fw.app.ip.to_string(),
                }
            })
            .collect();
        let info = WorldInfo {
            bus: bus.address().to_string(),
            adapter: infos[0].clone(),
            adapters: infos,
            devices,
            radio: opts.radio.params,
        };
        Ok(World {
            info,
            agents,
            _conn: conn,
            _bus: bus,
        })
    }
}
