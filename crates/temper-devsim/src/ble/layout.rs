//! The GATT database of a peripheral as BlueZ exposes it once connected: object paths carry the attribute
//! handles (`serviceXXXX/charYYYY/descZZZZ`), as clients such as bleak read them.
//!
//! Every peripheral: MCUmgr's SMP service at handle 0x0010, its characteristic at 0x0011 (value 0x0012) and
//! that one's CCCD at 0x0013. The ble-plug also: the Device Information Service at 0x0020 with Model Number
//! (0x0021), Serial Number (0x0023) and Firmware Revision (0x0025); the Nordic UART Service carrying the shell
//! ([`super::nus`]) at 0x0030 with RX (0x0031), TX (0x0033) and TX's CCCD (0x0035).

use zbus::Connection;

use super::descriptor::Cccd;
use super::device::Device;
use super::dis::{dis_paths, Field, ReadCharacteristic, DIS_SERVICE};
use super::gatt::{object_path, smp_paths, GattService, SmpBackend, SmpCharacteristic};
use super::nus::{nus_paths, NusRx, NusTx, NUS_SERVICE};
use super::objects::Kind;
use super::peripherals::SMP_SERVICE;
use crate::zephyr::variant::Variant;

/// Adds the GATT objects of the device at `path` (if not yet), then marks its services resolved.
pub(super) async fn resolve_services(conn: Connection, path: String) -> zbus::Result<()> {
    let server = conn.object_server();
    let iface = server.interface::<_, Device>(path.as_str()).await?;
    let (peripheral, host, firmware, link, add) = {
        let d = iface.get().await;
        (
            d.peripheral.clone(),
            d.host.clone(),
            d.firmware.clone(),
            d.link.clone(),
            !d.gatt_added,
        )
    };
    if add {
        let objects = &host.objects;
        let (service_path, char_path, cccd_path) = smp_paths(&path);
        let service = GattService {
            uuid: SMP_SERVICE.into(),
            device: object_path(&path),
        };
        let interfaces = service.interfaces();
        server.at(service_path.as_str(), service).await?;
        objects
            .announce(&conn, &service_path, Kind::GattService, interfaces)
            .await?;
        let backend = SmpBackend {
            server: firmware.clone(),
            link: link.clone(),
        };
        let characteristic = SmpCharacteristic::new(
            char_path.clone(),
            object_path(&service_path),
            backend,
            host.clone(),
            peripheral.clone(),
        );
        let interfaces = characteristic.interfaces();
        server.at(char_path.as_str(), characteristic).await?;
        objects
            .announce(&conn, &char_path, Kind::SmpCharacteristic, interfaces)
            .await?;
        let cccd = Cccd {
            characteristic: object_path(&char_path),
        };
        let interfaces = cccd.interfaces();
        server.at(cccd_path.as_str(), cccd).await?;
        objects
            .announce(&conn, &cccd_path, Kind::Descriptor, interfaces)
            .await?;
        if peripheral.variant() == Variant::PlugMini {
            let (dis_path, char_paths) = dis_paths(&path);
            let service = GattService {
                uuid: DIS_SERVICE.into(),
                device: object_path(&path),
            };
            let interfaces = service.interfaces();
            server.at(dis_path.as_str(), service).await?;
            objects
                .announce(&conn, &dis_path, Kind::GattService, interfaces)
                .await?;
            for (field, char_path) in Field::ALL.into_iter().zip(char_paths) {
                let characteristic = ReadCharacteristic {
                    field,
                    service: object_path(&dis_path),
                    firmware: firmware.clone(),
                };
                let interfaces = characteristic.interfaces();
                server.at(char_path.as_str(), characteristic).await?;
                objects
                    .announce(&conn, &char_path, Kind::ReadCharacteristic, interfaces)
                    .await?;
            }
            let (nus_path, rx_path, tx_path, cccd_path) = nus_paths(&path);
            let service = GattService {
                uuid: NUS_SERVICE.into(),
                device: object_path(&path),
            };
            let interfaces = service.interfaces();
            server.at(nus_path.as_str(), service).await?;
            objects
                .announce(&conn, &nus_path, Kind::GattService, interfaces)
                .await?;
            let rx = NusRx::new(
                object_path(&nus_path),
                tx_path.clone(),
                link.clone(),
                firmware.clone(),
                host.clone(),
                peripheral.clone(),
            );
            let interfaces = rx.interfaces();
            server.at(rx_path.as_str(), rx).await?;
            objects
                .announce(&conn, &rx_path, Kind::NusRx, interfaces)
                .await?;
            let tx = NusTx {
                path: tx_path.clone(),
                service: object_path(&nus_path),
                link: link.clone(),
            };
            let interfaces = tx.interfaces();
            server.at(tx_path.as_str(), tx).await?;
            objects
                .announce(&conn, &tx_path, Kind::NusTx, interfaces)
                .await?;
            let cccd = Cccd {
                characteristic: object_path(&tx_path),
            };
            let interfaces = cccd.interfaces();
            server.at(cccd_path.as_str(), cccd).await?;
            objects
                .announce(&conn, &cccd_path, Kind::Descriptor, interfaces)
                .await?;
        }
    }
    let mut d = iface.get_mut().await;
    d.gatt_added = true;
    if d.connected && !d.services_resolved {
        d.services_resolved = true;
        d.services_resolved_changed(iface.signal_context()).await?;
    }
    Ok(())
}

/// Removes the object at `path` of `kind` from the object server (RemoveDevice takes the GATT objects too).
pub(super) async fn remove(server: &zbus::ObjectServer, path: &str, kind: Kind) {
    let removed = match kind {
        Kind::Device => server.remove::<Device, _>(path).await,
        Kind::GattService => server.remove::<GattService, _>(path).await,
        Kind::SmpCharacteristic => server.remove::<SmpCharacteristic, _>(path).await,
        Kind::ReadCharacteristic => server.remove::<ReadCharacteristic, _>(path).await,
        Kind::NusRx => server.remove::<NusRx, _>(path).await,
        Kind::NusTx => server.remove::<NusTx, _>(path).await,
        Kind::Descriptor => server.remove::<Cccd, _>(path).await,
    };
    if let Err(e) = removed {
        tracing::warn!("removing {path}: {e}");
    }
}
