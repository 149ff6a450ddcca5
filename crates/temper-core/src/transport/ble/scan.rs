//! Finding BLE devices: the adapter's state, and what it hears advertising.

use std::collections::BTreeMap;
use std::time::Duration;

use btleplug::api::{
    Central, CentralEvent, CentralState, Manager as _, Peripheral as _, ScanFilter,
};
use btleplug::platform::{Adapter, Manager};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::BleError;

/// One device heard advertising.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Sighting {
    /// Its address, `AA:BB:CC:DD:EE:FF`.
    pub address: String,
    /// Its advertised local name.
    pub name: Option<String>,
    /// Signal strength at the adapter, dBm.
    pub rssi: Option<i16>,
    /// Advertised service UUIDs.
    pub services: Vec<Uuid>,
    /// Manufacturer-specific data by company identifier.
    pub manufacturer_data: BTreeMap<u16, Vec<u8>>,
}

/// The first adapter, powered on.
pub async fn adapter() -> Result<Adapter, BleError> {
    let manager = Manager::new()
        .await
        .map_err(|e| BleError::Unavailable(e.to_string()))?;
    // btleplug lists adapters in no fixed order (a hash map of BlueZ's objects): take the first by name
    // (hci0 before hci1), the one pairing and bonds use too, so every step talks through the same adapter.
    let mut named = Vec::new();
    for adapter in manager
        .adapters()
        .await
        .map_err(|e| BleError::Unavailable(e.to_string()))?
    {
        let info = adapter.adapter_info().await.unwrap_or_default();
        named.push((adapter_index(&info), info, adapter));
    }
    named.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let adapter = named
        .into_iter()
        .next()
        .map(|(_, _, adapter)| adapter)
        .ok_or(BleError::NoAdapter)?;
    if adapter.adapter_state().await.ok() == Some(CentralState::PoweredOff) {
        return Err(BleError::Off);
    }
    Ok(adapter)
}

/// N of `hciN (modalias)`, as btleplug describes an adapter; adapters without one sort last.
fn adapter_index(info: &str) -> u32 {
    info.strip_prefix("hci")
        .map(|rest| {
            rest.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or(u32::MAX)
}

/// The adapter's events, subscribed before its scan for `services` starts (so no discovery is missed).
async fn listen(
    adapter: &Adapter,
    services: Vec<Uuid>,
) -> Result<std::pin::Pin<Box<dyn futures::Stream<Item = CentralEvent> + Send>>, BleError> {
    let events = adapter
        .events()
        .await
        .map_err(|e| BleError::other("scan", e))?;
    adapter
        .start_scan(ScanFilter { services })
        .await
        .map_err(|e| scan_error(&e))?;
    Ok(events)
}

/// Listens for `duration` and returns every device heard (sorted by address). `services` narrows what
/// BlueZ reports (empty: everything).
pub async fn scan(services: Vec<Uuid>, duration: Duration) -> Result<Vec<Sighting>, BleError> {
    let adapter = adapter().await?;
    let mut events = listen(&adapter, services).await?;
    let deadline = tokio::time::Instant::now() + duration;
    let mut heard = BTreeMap::new();
    for p in adapter.peripherals().await.unwrap_or_default() {
        if let Some(s) = sighting(&p).await {
            heard.insert(s.address.clone(), s);
        }
    }
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.next()).await {
        let id = match event {
            CentralEvent::DeviceDiscovered(id) | CentralEvent::DeviceUpdated(id) => id,
            _ => continue,
        };
        if let Ok(p) = adapter.peripheral(&id).await {
            if let Some(s) = sighting(&p).await {
                heard.insert(s.address.clone(), s);
            }
        }
    }
    let _ = adapter.stop_scan().await;
    Ok(heard.into_values().collect())
}

/// Scans until `address` is heard (or `timeout`), returning its peripheral.
pub(crate) async fn find(
    adapter: &Adapter,
    address: &str,
    services: Vec<Uuid>,
    timeout: Duration,
) -> Result<btleplug::platform::Peripheral, BleError> {
    let mut events = listen(adapter, services).await?;
    let deadline = tokio::time::Instant::now() + timeout;
    let is_it =
        |p: &btleplug::platform::Peripheral| p.address().to_string().eq_ignore_ascii_case(address);
    let mut found = adapter
        .peripherals()
        .await
        .unwrap_or_default()
        .into_iter()
        .find(is_it);
    while found.is_none() {
        let event = tokio::time::timeout_at(deadline, events.next()).await;
        let id = match event {
            Ok(Some(CentralEvent::DeviceDiscovered(id) | CentralEvent::DeviceUpdated(id))) => id,
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => break,
        };
        found = adapter.peripheral(&id).await.ok().filter(is_it);
    }
    let _ = adapter.stop_scan().await;
    found.ok_or_else(|| BleError::NotFound {
        address: address.into(),
        secs: timeout.as_secs(),
    })
}

fn scan_error(e: &btleplug::Error) -> BleError {
    let text = e.to_string();
    if text.contains("NotReady") || text.contains("Resource Not Ready") {
        BleError::Off
    } else {
        BleError::other("scan", text)
    }
}

pub(crate) async fn sighting(p: &btleplug::platform::Peripheral) -> Option<Sighting> {
    let props = p.properties().await.ok()??;
    Some(Sighting {
        address: props.address.to_string(),
        name: props.local_name,
        rssi: props.rssi,
        services: props.services,
        manufacturer_data: props.manufacturer_data.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::adapter_index;

    #[test]
    fn adapters_sort_by_their_hci_number() {
        assert_eq!(adapter_index("hci0 (usb:v1D6Bp0246d0540)"), 0);
        assert_eq!(adapter_index("hci12 ()"), 12);
        assert_eq!(adapter_index("weird"), u32::MAX);
    }
}
