//! The radio link of one peripheral with an SMP service: whether it is connected, the slots of each
//! direction ([`super::radio::Schedule`]), the notifications on their way (one queue for all of its notifying
//! characteristics: SMP, and the ble-plug's NUS TX; each with its own subscription and value), and the world's
//! fault plan.
//!
//! Each connection has an epoch: a drop (or a disconnect) ends it, and whatever belonged to it (a request
//! being reassembled, notifications not yet sent, the subscriptions) is dropped with it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use zbus::names::InterfaceName;
use zbus::object_server::SignalContext;
use zbus::zvariant::Value;
use zbus::Connection;

use super::radio::{DropAfter, RadioParams, Schedule};

/// The interface whose `Value` changes carry notifications.
const CHARACTERISTIC_IFACE: &str = "org.bluez.GattCharacteristic1";

/// The link is down (`org.bluez.Error.NotConnected` on the bus).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotConnected;

/// The world's deterministic fault (`--drop-after`), shared by its links: it fires once.
#[derive(Debug, Default)]
pub struct Faults {
    plan: Option<DropAfter>,
    state: Mutex<FaultState>,
}

#[derive(Debug, Default)]
struct FaultState {
    seen: u32,
    fired: bool,
}

impl Faults {
    pub fn new(plan: Option<DropAfter>) -> Faults {
        Faults {
            plan,
            state: Mutex::default(),
        }
    }

    /// Counts `request` (a whole SMP packet) against the plan; true when its reply is to be lost and the link
    /// dropped.
    pub fn drops_after(&self, request: &[u8]) -> bool {
        let Some(plan) = self.plan else {
            return false;
        };
        if request.len() < 8 {
            return false;
        }
        let group = u16::from_be_bytes([request[4], request[5]]);
        if group != plan.group || request[7] != plan.id {
            return false;
        }
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.fired {
            return false;
        }
        s.seen += 1;
        s.fired = s.seen == plan.nth;
        s.fired
    }
}

/// One reply on its way as notifications of the characteristic at `path`.
struct Reply {
    path: String,
    epoch: u64,
    bytes: Vec<u8>,
    arrived: Instant,
}

/// What the central sees of one notifying characteristic.
#[derive(Default)]
struct Channel {
    subscribed: bool,
    /// The last notified value (the characteristic's `Value`).
    value: Vec<u8>,
}

struct State {
    connected: bool,
    epoch: u64,
    central: Schedule,
    peripheral: Schedule,
    /// Each notifying characteristic's state, by object path (SMP; the ble-plug's NUS TX).
    channels: HashMap<String, Channel>,
    notifier: Option<mpsc::UnboundedSender<Reply>>,
}

/// The radio link of one peripheral.
pub struct RadioLink {
    pub params: RadioParams,
    /// The peripheral's Device1 object path.
    pub device: String,
    pub faults: Arc<Faults>,
    state: Mutex<State>,
}

impl RadioLink {
    pub fn new(params: RadioParams, device: String, faults: Arc<Faults>) -> RadioLink {
        let now = Instant::now();
        RadioLink {
            params,
            device,
            faults,
            state: Mutex::new(State {
                connected: false,
                epoch: 0,
                central: Schedule::new(now, &params),
                peripheral: Schedule::new(now, &params),
                channels: HashMap::new(),
                notifier: None,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection starts: its events are laid out from now.
    pub fn connect(&self) {
        let mut s = self.state();
        if !s.connected {
            let now = Instant::now();
            s.connected = true;
            s.central = Schedule::new(now, &self.params);
            s.peripheral = Schedule::new(now, &self.params);
        }
    }

    /// The connection ends (a disconnect or a drop): what belonged to it is gone.
    pub fn disconnect(&self) {
        let mut s = self.state();
        if s.connected {
            s.connected = false;
            s.epoch += 1;
            for c in s.channels.values_mut() {
                c.subscribed = false;
            }
        }
    }

    /// The current connection's epoch, if connected.
    pub fn epoch(&self) -> Option<u64> {
        let s = self.state();
        s.connected.then_some(s.epoch)
    }

    /// Whether the central subscribed to the characteristic at `path`.
    pub fn subscribed(&self, path: &str) -> bool {
        self.state()
            .channels
            .get(path)
            .is_some_and(|c| c.subscribed)
    }

    /// Subscribes or unsubscribes (StartNotify / StopNotify) the characteristic at `path`; false if that
    /// changed nothing.
    pub fn set_subscribed(&self, path: &str, on: bool) -> bool {
        let mut s = self.state();
        let c = s.channels.entry(path.to_string()).or_default();
        let changed = c.subscribed != on;
        c.subscribed = on;
        changed
    }

    /// The last value notified on the characteristic at `path`.
    pub fn value(&self, path: &str) -> Vec<u8> {
        self.state()
            .channels
            .get(path)
            .map(|c| c.value.clone())
            .unwrap_or_default()
    }

    /// Carries one packet from the central: returns when its slot's exchange has happened, with the epoch of
    /// the connection it went out on.
    pub async fn from_central(&self) -> Result<u64, NotConnected> {
        let (epoch, at) = {
            let mut s = self.state();
            if !s.connected {
                return Err(NotConnected);
            }
            (s.epoch, s.central.take(Instant::now()))
        };
        tokio::time::sleep_until(at).await;
        match self.epoch() {
            Some(e) if e == epoch => Ok(epoch),
            _ => Err(NotConnected),
        }
    }

    /// Queues `bytes` (one SMP reply or shell output, received in connection `epoch`) to go out as
    /// notifications of the characteristic at `path`, in the peripheral's slots (one queue per link, shared
    /// by its characteristics, in order).
    pub fn notify(self: &Arc<Self>, conn: &Connection, path: &str, epoch: u64, bytes: Vec<u8>) {
        let reply = Reply {
            path: path.to_string(),
            epoch,
            bytes,
            arrived: Instant::now(),
        };
        let mut s = self.state();
        let sender = s.notifier.get_or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(notifier(self.clone(), conn.clone(), rx));
            tx
        });
        if sender.send(reply).is_err() {
            tracing::warn!("the notifier of {path} stopped: a reply is lost");
        }
    }

    /// Takes the peripheral's next slot at or after `earliest` if still in connection `epoch`.
    fn peripheral_slot(&self, epoch: u64, earliest: Instant) -> Option<Instant> {
        let mut s = self.state();
        (s.connected && s.epoch == epoch).then(|| s.peripheral.take(earliest))
    }

    /// Whether a notification of the characteristic at `path` may go out in connection `epoch`; records its
    /// value if so.
    fn deliver(&self, path: &str, epoch: u64, chunk: &[u8]) -> bool {
        let mut s = self.state();
        if !s.connected || s.epoch != epoch {
            return false;
        }
        let c = s.channels.entry(path.to_string()).or_default();
        c.value = chunk.to_vec();
        c.subscribed
    }
}

/// Sends queued replies as notifications of at most MTU − 3 bytes, each in the next peripheral slot, the
/// first one of each reply no sooner than `notify_delay_ms` after the reply was ready.
async fn notifier(
    link: Arc<RadioLink>,
    conn: Connection,
    mut replies: mpsc::UnboundedReceiver<Reply>,
) {
    let delay = Duration::from_millis(u64::from(link.params.notify_delay_ms));
    let iface = InterfaceName::from_static_str_unchecked(CHARACTERISTIC_IFACE);
    while let Some(reply) = replies.recv().await {
        let path = reply.path.as_str();
        let Ok(ctxt) = SignalContext::new(&conn, path) else {
            continue;
        };
        let mut earliest = reply.arrived + delay;
        for chunk in reply.bytes.chunks(link.params.payload()) {
            let Some(at) = link.peripheral_slot(reply.epoch, earliest.max(Instant::now())) else {
                break;
            };
            tokio::time::sleep_until(at).await;
            earliest = at;
            if !link.deliver(path, reply.epoch, chunk) {
                continue;
            }
            let value = Value::from(chunk);
            let changed = HashMap::from([("Value", &value)]);
            if let Err(e) =
                zbus::fdo::Properties::properties_changed(&ctxt, iface.clone(), &changed, &[]).await
            {
                tracing::warn!("notification on {path}: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(group: u16, id: u8) -> Vec<u8> {
        let g = group.to_be_bytes();
        vec![2, 0, 0, 0, g[0], g[1], 7, id]
    }

    #[test]
    fn the_fault_fires_on_the_nth_matching_request_and_only_once() {
        let f = Faults::new(Some("3:0:2".parse().unwrap()));
        assert!(!f.drops_after(&packet(3, 0)));
        assert!(!f.drops_after(&packet(3, 1)));
        assert!(!f.drops_after(&packet(1, 0)));
        assert!(f.drops_after(&packet(3, 0)));
        assert!(!f.drops_after(&packet(3, 0)));
        assert!(!Faults::new(None).drops_after(&packet(0, 0)));
    }

    #[tokio::test]
    async fn a_disconnected_link_refuses_packets_and_a_new_connection_has_a_new_epoch() {
        let link = RadioLink::new(RadioParams::default(), "/d".into(), Arc::default());
        assert_eq!(link.from_central().await, Err(NotConnected));
        link.connect();
        let first = link.from_central().await.unwrap();
        link.set_subscribed("/d/c", true);
        link.disconnect();
        assert!(!link.subscribed("/d/c"));
        assert_eq!(link.epoch(), None);
        link.connect();
        assert_ne!(link.from_central().await.unwrap(), first);
    }
}
