//! The few BlueZ D-Bus calls btleplug 0.11 does not make: device properties it does not expose
//! (`LegacyPairing`, `Paired`), pairing (`Device1.Pair` with Temper's own agent), removing a bond
//! (`Adapter1.RemoveDevice`) and the negotiated MTU (`GattCharacteristic1.MTU`). BlueZ's API is in its
//! `doc/org.bluez.*.rst`.

use std::collections::HashMap;

use zbus::proxy;
use zbus::zvariant::{OwnedObjectPath, OwnedValue};

use super::BleError;

#[proxy(interface = "org.bluez.Device1", default_service = "org.bluez")]
pub(crate) trait Device1 {
    fn pair(&self) -> zbus::Result<()>;
    fn cancel_pairing(&self) -> zbus::Result<()>;
    #[zbus(property)]
    fn paired(&self) -> zbus::Result<bool>;
    #[zbus(property)]
    fn legacy_pairing(&self) -> zbus::Result<bool>;
    #[zbus(property)]
    fn address(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn adapter(&self) -> zbus::Result<OwnedObjectPath>;
}

#[proxy(interface = "org.bluez.Adapter1", default_service = "org.bluez")]
pub(crate) trait Adapter1 {
    fn remove_device(&self, device: &zbus::zvariant::ObjectPath<'_>) -> zbus::Result<()>;
    #[zbus(property)]
    fn address(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn powered(&self) -> zbus::Result<bool>;
}

#[proxy(
    interface = "org.bluez.AgentManager1",
    default_service = "org.bluez",
    default_path = "/org/bluez"
)]
pub(crate) trait AgentManager1 {
    fn register_agent(
        &self,
        agent: &zbus::zvariant::ObjectPath<'_>,
        capability: &str,
    ) -> zbus::Result<()>;
    fn unregister_agent(&self, agent: &zbus::zvariant::ObjectPath<'_>) -> zbus::Result<()>;
    fn request_default_agent(&self, agent: &zbus::zvariant::ObjectPath<'_>) -> zbus::Result<()>;
}

type Interfaces = HashMap<String, HashMap<String, OwnedValue>>;

/// The system bus (`DBUS_SYSTEM_BUS_ADDRESS` when set).
pub(crate) async fn system_bus() -> Result<zbus::Connection, BleError> {
    zbus::Connection::system()
        .await
        .map_err(|e| BleError::Unavailable(e.to_string()))
}

/// Every object BlueZ manages, with its interfaces and properties.
pub(crate) async fn managed_objects(
    conn: &zbus::Connection,
) -> Result<Vec<(OwnedObjectPath, Interfaces)>, BleError> {
    let proxy = zbus::fdo::ObjectManagerProxy::builder(conn)
        .destination("org.bluez")
        .and_then(|b| b.path("/"))
        .map_err(|e| BleError::Unavailable(e.to_string()))?
        .build()
        .await
        .map_err(|e| BleError::Unavailable(e.to_string()))?;
    let objects = proxy
        .get_managed_objects()
        .await
        .map_err(|e| BleError::Unavailable(e.to_string()))?;
    let mut list: Vec<(OwnedObjectPath, Interfaces)> = objects
        .into_iter()
        .map(|(path, ifaces)| {
            let ifaces = ifaces
                .into_iter()
                .map(|(name, props)| (name.to_string(), props))
                .collect();
            (path, ifaces)
        })
        .collect();
    list.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    Ok(list)
}

/// The first adapter by number (`hci0` before `hci1` before `hci10`), as [`super::scan::adapter`] picks it.
pub(crate) async fn first_adapter(conn: &zbus::Connection) -> Result<OwnedObjectPath, BleError> {
    managed_objects(conn)
        .await?
        .into_iter()
        .filter(|(_, ifaces)| ifaces.contains_key("org.bluez.Adapter1"))
        .map(|(path, _)| path)
        .min_by_key(|path| {
            let name = path.as_str().rsplit('/').next().unwrap_or_default();
            let n = name.strip_prefix("hci").and_then(|n| n.parse::<u32>().ok());
            (n.unwrap_or(u32::MAX), path.as_str().to_string())
        })
        .ok_or(BleError::NoAdapter)
}

/// The object path of device `address` under the first adapter (`…/hci0/dev_AA_BB_…`).
pub(crate) async fn device_path(
    conn: &zbus::Connection,
    address: &str,
) -> Result<Option<OwnedObjectPath>, BleError> {
    let adapter = first_adapter(conn).await?;
    let wanted = format!(
        "{}/dev_{}",
        adapter.as_str(),
        address.to_ascii_uppercase().replace(':', "_")
    );
    Ok(managed_objects(conn)
        .await?
        .into_iter()
        .find(|(path, ifaces)| path.as_str() == wanted && ifaces.contains_key("org.bluez.Device1"))
        .map(|(path, _)| path))
}

/// The `MTU` property of the characteristic `uuid` of device `address`.
pub(crate) async fn characteristic_mtu(address: &str, uuid: uuid::Uuid) -> Result<u16, BleError> {
    let conn = system_bus().await?;
    let device = format!("/dev_{}/", address.to_ascii_uppercase().replace(':', "_"));
    let wanted = uuid.to_string();
    for (path, ifaces) in managed_objects(&conn).await? {
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
            return mtu
                .try_clone()
                .ok()
                .and_then(|v| u16::try_from(v).ok())
                .ok_or_else(|| BleError::other("MTU read", "MTU is not a u16"));
        }
    }
    Err(BleError::other(
        "MTU read",
        format!("no characteristic {wanted} with an MTU under {device}"),
    ))
}

/// The BlueZ error name of a failed call (`org.bluez.Error.AuthenticationFailed`), if it is one.
pub(crate) fn error_name(e: &zbus::Error) -> Option<String> {
    match e {
        zbus::Error::MethodError(name, _, _) => Some(name.to_string()),
        _ => None,
    }
}

/// The message of a failed call, without the error name.
pub(crate) fn error_message(e: &zbus::Error) -> String {
    match e {
        zbus::Error::MethodError(_, Some(text), _) => text.clone(),
        other => other.to_string(),
    }
}
