//! Pairing and bonds: LE Secure Connections passkey entry with Temper's own `org.bluez.Agent1`, and removing
//! a bond.
//!
//! [`pair`] exports an agent on its own system-bus connection, registers it with `AgentManager1` as
//! "KeyboardOnly" (Temper types the passkey printed on the device's label) and makes it the default agent,
//! then calls `Device1.Pair`. BlueZ asks the agent for the passkey (`RequestPasskey`); the agent answers
//! only for the device being paired and rejects every other request (numeric comparison, PIN codes,
//! service authorisation), so a device cannot talk Temper into a weaker method. A device that reports
//! `LegacyPairing` is refused before anything is sent.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use zbus::interface;
use zbus::zvariant::{ObjectPath, OwnedObjectPath};

use super::bluez::{self, AgentManager1Proxy, Device1Proxy};
use super::BleError;

/// Where Temper's agent lives on its connection.
const AGENT_PATH: &str = "/org/temper/agent";
/// How long BlueZ may take to pair (it connects first when needed).
const PAIR_TIMEOUT: Duration = Duration::from_secs(30);

/// A six-digit LE passkey (000000–999999). `Debug` and `Display` hide it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Passkey(u32);

impl Passkey {
    /// The number.
    pub fn value(self) -> u32 {
        self.0
    }
}

impl FromStr for Passkey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err("a BLE passkey is exactly 6 digits, e.g. 042137".into());
        }
        s.parse().map(Passkey).map_err(|e| e.to_string())
    }
}

impl fmt::Debug for Passkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passkey(******)")
    }
}

/// A bond between this station's adapter and a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bond {
    /// The station's adapter address.
    pub adapter: String,
    /// The device's address.
    pub device: String,
    /// True when this call made the bond, false when it was there already.
    pub new: bool,
}

/// BlueZ's agent errors.
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.bluez.Error")]
enum AgentError {
    #[zbus(error)]
    ZBus(zbus::Error),
    /// The request is refused.
    Rejected(String),
}

/// Temper's agent: answers one device's passkey request.
struct Agent {
    device: OwnedObjectPath,
    passkey: Option<Passkey>,
}

#[interface(name = "org.bluez.Agent1")]
impl Agent {
    fn release(&self) {}

    fn request_passkey(&self, device: ObjectPath<'_>) -> Result<u32, AgentError> {
        match self.passkey {
            Some(p) if device.as_str() == self.device.as_str() => Ok(p.value()),
            Some(_) => Err(AgentError::Rejected(format!(
                "Temper is pairing {}, not {device}",
                self.device.as_str()
            ))),
            None => Err(AgentError::Rejected("no passkey was given".into())),
        }
    }

    fn request_pin_code(&self, _device: ObjectPath<'_>) -> Result<String, AgentError> {
        Err(AgentError::Rejected(
            "PIN codes (BR/EDR legacy) are refused".into(),
        ))
    }

    fn request_confirmation(
        &self,
        _device: ObjectPath<'_>,
        _passkey: u32,
    ) -> Result<(), AgentError> {
        Err(AgentError::Rejected(
            "Temper pairs by passkey entry only".into(),
        ))
    }

    fn request_authorization(&self, _device: ObjectPath<'_>) -> Result<(), AgentError> {
        Err(AgentError::Rejected(
            "Temper pairs by passkey entry only".into(),
        ))
    }

    fn authorize_service(&self, _device: ObjectPath<'_>, _uuid: String) -> Result<(), AgentError> {
        Err(AgentError::Rejected("not authorised".into()))
    }

    fn display_passkey(&self, _device: ObjectPath<'_>, _passkey: u32, _entered: u16) {}

    fn display_pin_code(&self, _device: ObjectPath<'_>, _pincode: String) {}

    fn cancel(&self) {}
}

/// Bonds with the device `address` on the first adapter, entering `passkey` when BlueZ asks for one. An
/// existing bond is kept (`Bond::new` false). Refuses legacy pairing.
pub async fn pair(address: &str, passkey: Option<Passkey>) -> Result<Bond, BleError> {
    let conn = bluez::system_bus().await?;
    let path = bluez::device_path(&conn, address).await?.ok_or_else(|| {
        BleError::other(
            "pairing",
            format!("BlueZ knows no device {address} on its first adapter: scan for it first"),
        )
    })?;
    let device = Device1Proxy::builder(&conn)
        .path(path.clone())
        .map_err(|e| BleError::other("pairing", e))?
        .build()
        .await
        .map_err(|e| BleError::other("pairing", e))?;
    let adapter = adapter_address(&conn, &device).await?;
    if device.legacy_pairing().await.unwrap_or(false) {
        return Err(BleError::LegacyPairing {
            address: address.into(),
        });
    }
    if device.paired().await.unwrap_or(false) {
        return Ok(Bond {
            adapter,
            device: address.into(),
            new: false,
        });
    }
    if passkey.is_none() {
        return Err(BleError::PasskeyNeeded {
            address: address.into(),
        });
    }
    // The agent gets its own connection, so it goes away with it whatever happens below.
    let agent_conn = bluez::system_bus().await?;
    agent_conn
        .object_server()
        .at(
            AGENT_PATH,
            Agent {
                device: path.clone(),
                passkey,
            },
        )
        .await
        .map_err(|e| BleError::other("agent export", e))?;
    let manager = AgentManager1Proxy::new(&agent_conn)
        .await
        .map_err(|e| BleError::other("agent registration", e))?;
    let agent_path = ObjectPath::try_from(AGENT_PATH).expect("constant path");
    manager
        .register_agent(&agent_path, "KeyboardOnly")
        .await
        .map_err(|e| BleError::other("agent registration", bluez::error_message(&e)))?;
    manager
        .request_default_agent(&agent_path)
        .await
        .map_err(|e| BleError::other("agent registration", bluez::error_message(&e)))?;
    let result = tokio::time::timeout(PAIR_TIMEOUT, device.pair()).await;
    let _ = manager.unregister_agent(&agent_path).await;
    let refused = |reason: String| BleError::PairingRefused {
        address: address.into(),
        reason,
    };
    match result {
        Err(_) => {
            let _ = device.cancel_pairing().await;
            Err(refused(format!(
                "no answer within {} s; help: bring the device closer and try again",
                PAIR_TIMEOUT.as_secs()
            )))
        }
        Ok(Ok(())) => Ok(Bond {
            adapter,
            device: address.into(),
            new: true,
        }),
        Ok(Err(e)) => match bluez::error_name(&e).as_deref() {
            Some("org.bluez.Error.AlreadyExists") => Ok(Bond {
                adapter,
                device: address.into(),
                new: false,
            }),
            Some("org.bluez.Error.AuthenticationFailed") => Err(BleError::PasskeyRejected {
                address: address.into(),
            }),
            Some("org.bluez.Error.AuthenticationRejected") => Err(refused(format!(
                "the device rejected pairing ({}); help: it may be bonded to another station already: reset it or open its pairing window",
                bluez::error_message(&e)
            ))),
            Some("org.bluez.Error.AuthenticationCanceled") => {
                Err(refused(format!("pairing was cancelled ({})", bluez::error_message(&e))))
            }
            _ => Err(refused(bluez::error_message(&e))),
        },
    }
}

async fn adapter_address(
    conn: &zbus::Connection,
    device: &Device1Proxy<'_>,
) -> Result<String, BleError> {
    let path = device
        .adapter()
        .await
        .map_err(|e| BleError::other("adapter lookup", e))?;
    let adapter = bluez::Adapter1Proxy::builder(conn)
        .path(path)
        .map_err(|e| BleError::other("adapter lookup", e))?
        .build()
        .await
        .map_err(|e| BleError::other("adapter lookup", e))?;
    adapter
        .address()
        .await
        .map_err(|e| BleError::other("adapter lookup", e))
}

/// Removes the bond with `address` from the first adapter (BlueZ forgets the device and its keys). Returns
/// false when the adapter had no such device.
pub async fn forget(address: &str) -> Result<bool, BleError> {
    let conn = bluez::system_bus().await?;
    let adapter = bluez::first_adapter(&conn).await?;
    let Some(path) = bluez::device_path(&conn, address).await? else {
        return Ok(false);
    };
    let proxy = bluez::Adapter1Proxy::builder(&conn)
        .path(adapter)
        .map_err(|e| BleError::other("forget", e))?
        .build()
        .await
        .map_err(|e| BleError::other("forget", e))?;
    proxy
        .remove_device(&path.as_ref())
        .await
        .map_err(|e| BleError::other("forget", bluez::error_message(&e)))?;
    Ok(true)
}
