//! Pairing agents, as BlueZ keeps them: registered through `AgentManager1` (at `/org/bluez`) by a client that
//! serves `org.bluez.Agent1` at a path of its own connection, one of them the default. Pairing asks the
//! default agent (else the most recently registered one) for the passkey printed on the peripheral's label:
//! a D-Bus method call `RequestPasskey(o device) -> u` from the simulated BlueZ's connection to the agent's
//! unique bus name and path, as BlueZ makes it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use zbus::names::BusName;
use zbus::zvariant::{ObjectPath, OwnedObjectPath};
use zbus::Connection;

use super::bluez::BluezError;

/// How long BlueZ waits for an agent's answer before the pairing fails.
pub const AGENT_TIMEOUT: Duration = Duration::from_secs(60);
/// The agent interface.
const AGENT1: &str = "org.bluez.Agent1";

/// The agents registered through `AgentManager1`.
#[derive(Debug, Default, Clone)]
pub struct Agents {
    inner: Arc<Mutex<AgentState>>,
}

/// One registered agent: the unique bus name of its client and its object path there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub owner: String,
    pub path: OwnedObjectPath,
    pub capability: String,
}

#[derive(Debug, Default)]
struct AgentState {
    /// In registration order.
    registered: Vec<Agent>,
    default: Option<(String, OwnedObjectPath)>,
}

impl Agents {
    fn lock(&self) -> std::sync::MutexGuard<'_, AgentState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The default agent: (bus name of its client, object path), if one was requested.
    pub fn default_agent(&self) -> Option<(String, OwnedObjectPath)> {
        self.lock().default.clone()
    }

    /// The agent pairing asks: the default one, else the most recently registered one.
    pub fn for_pairing(&self) -> Option<Agent> {
        let state = self.lock();
        let default = state.default.as_ref().and_then(|(owner, path)| {
            state
                .registered
                .iter()
                .find(|a| a.owner == *owner && a.path == *path)
        });
        default.or_else(|| state.registered.last()).cloned()
    }

    /// Registers `path` of `owner`; Failed ("AlreadyExists" in BlueZ's words) when it is registered.
    pub fn register(
        &self,
        owner: String,
        path: OwnedObjectPath,
        capability: String,
    ) -> Result<(), BluezError> {
        let mut state = self.lock();
        if state
            .registered
            .iter()
            .any(|a| a.owner == owner && a.path == path)
        {
            return Err(BluezError::AlreadyExists("Already Exists".into()));
        }
        state.registered.push(Agent {
            owner,
            path,
            capability,
        });
        Ok(())
    }

    /// Unregisters `path` of `owner` (and drops it as the default).
    pub fn unregister(&self, owner: &str, path: &OwnedObjectPath) -> Result<(), BluezError> {
        let mut state = self.lock();
        let before = state.registered.len();
        state
            .registered
            .retain(|a| !(a.owner == owner && a.path == *path));
        if state.registered.len() == before {
            return Err(BluezError::DoesNotExist("No agent registered".into()));
        }
        if state
            .default
            .as_ref()
            .is_some_and(|(o, p)| o == owner && p == path)
        {
            state.default = None;
        }
        Ok(())
    }

    /// Forgets every agent of `owner` (a client that left the bus), as BlueZ does.
    pub fn forget_owner(&self, owner: &str) {
        let mut state = self.lock();
        state.registered.retain(|a| a.owner != owner);
        if state.default.as_ref().is_some_and(|(o, _)| o == owner) {
            state.default = None;
        }
    }

    /// The agent pairing asks ([`Agents::for_pairing`]) among those whose client is still on the bus;
    /// agents of clients that left are forgotten on the way.
    pub async fn live_for_pairing(&self, conn: &Connection) -> Option<Agent> {
        let dbus = zbus::fdo::DBusProxy::new(conn).await.ok()?;
        while let Some(agent) = self.for_pairing() {
            let alive = match BusName::try_from(agent.owner.as_str()) {
                Ok(name) => dbus.name_has_owner(name).await.unwrap_or(false),
                Err(_) => false,
            };
            if alive {
                return Some(agent);
            }
            self.forget_owner(&agent.owner);
        }
        None
    }

    /// Makes `path` of `owner` the default agent; it must be registered.
    pub fn request_default(&self, owner: String, path: OwnedObjectPath) -> Result<(), BluezError> {
        let mut state = self.lock();
        if !state
            .registered
            .iter()
            .any(|a| a.owner == owner && a.path == path)
        {
            return Err(BluezError::DoesNotExist("No agent registered".into()));
        }
        state.default = Some((owner, path));
        Ok(())
    }
}

/// Asks `agent` for the passkey to pair `device`. The agent's errors map as BlueZ maps them:
/// `org.bluez.Error.Rejected` → AuthenticationRejected, `org.bluez.Error.Canceled` → AuthenticationCanceled,
/// anything else (or no answer in [`AGENT_TIMEOUT`]) → AuthenticationFailed / AuthenticationTimeout.
pub async fn request_passkey(
    conn: &Connection,
    agent: &Agent,
    device: &str,
) -> Result<u32, BluezError> {
    let dest = BusName::try_from(agent.owner.as_str())
        .map_err(|e| BluezError::AuthenticationFailed(format!("agent's bus name: {e}")))?;
    let device = ObjectPath::try_from(device)
        .map_err(|e| BluezError::Failed(format!("device path: {e}")))?;
    let args = (device,);
    let call = conn.call_method(
        Some(dest),
        agent.path.as_str(),
        Some(AGENT1),
        "RequestPasskey",
        &args,
    );
    let reply = match tokio::time::timeout(AGENT_TIMEOUT, call).await {
        Err(_) => {
            return Err(BluezError::AuthenticationTimeout(
                "Authentication Timeout".into(),
            ))
        }
        Ok(Err(zbus::Error::MethodError(name, text, _))) => {
            let text = text.unwrap_or_default();
            return Err(match name.as_str() {
                "org.bluez.Error.Rejected" => BluezError::AuthenticationRejected(text),
                "org.bluez.Error.Canceled" => BluezError::AuthenticationCanceled(text),
                other => BluezError::AuthenticationFailed(format!("agent: {other}: {text}")),
            });
        }
        Ok(Err(e)) => return Err(BluezError::AuthenticationFailed(format!("agent: {e}"))),
        Ok(Ok(reply)) => reply,
    };
    reply
        .body()
        .deserialize::<u32>()
        .map_err(|e| BluezError::AuthenticationFailed(format!("agent's passkey: {e}")))
}

/// Tells `agent` the request was cancelled (`Agent1.Cancel`), as BlueZ does; its answer is not awaited.
pub fn cancel(conn: &Connection, agent: &Agent) {
    let conn = conn.clone();
    let agent = agent.clone();
    tokio::spawn(async move {
        let Ok(dest) = BusName::try_from(agent.owner.as_str()) else {
            return;
        };
        let _ = conn
            .call_method(Some(dest), agent.path.as_str(), Some(AGENT1), "Cancel", &())
            .await;
    });
}
