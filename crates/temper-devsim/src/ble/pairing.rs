//! Pairing and the access rules of a peripheral's management characteristic, as the peripheral enforces them.
//!
//! - A peripheral without a label passkey (the zephyr-sensor) pairs "Just Works" and takes writes from anyone.
//! - The ble-plug pairs with the passkey on its label, entered through the central's agent
//!   ([`super::agent`]). In its factory state any central may pair. Once commissioned (its admin password in
//!   force is no longer the factory one) the pairing window is closed: only a central it already has a bond
//!   record for may pair again (a real plug reopens the window when its button is held for 5 s; not modelled).
//! - Writes to the plug's SMP characteristic need a bond on both sides: the adapter's record ([`super::bonds`])
//!   and the plug's own ([`crate::zephyr::ZephyrState::bonds`]).
//!
//! A successful pairing records both sides (the adapter's in `bonds.json`, the plug's in its state).

use tokio::sync::Notify;
use zbus::Connection;

use super::agent;
use super::bluez::BluezError;
use super::host::Host;
use super::peripherals::Peripheral;
use crate::zephyr::{lock, Shared};

/// Why the plug refuses to pair once commissioned.
pub const WINDOW_CLOSED: &str = "pairing window closed: hold the button for 5 s to reopen";
/// Why the plug refuses a write from a central without a bond.
pub const PAIR_FIRST: &str = "Insufficient authentication: pair first";

/// Whether `firmware` keeps a bond record for the central at `central`.
fn knows(firmware: &Shared, central: &str) -> bool {
    lock(firmware).state.bonds.iter().any(|b| b == central)
}

/// A write to the peripheral's management characteristic from the central of `host`: allowed, or
/// NotPermitted. (Real BlueZ surfaces the peripheral's ATT error 0x05, Insufficient Authentication, as
/// `org.bluez.Error.NotPermitted` with a message of its own; the message here says what to do.)
pub fn check_write(host: &Host, p: &Peripheral, firmware: &Shared) -> Result<(), BluezError> {
    if !p.needs_bond() || (host.bonded_with(&p.address) && knows(firmware, &host.address)) {
        return Ok(());
    }
    Err(BluezError::NotPermitted(PAIR_FIRST.into()))
}

/// Pairs the central of `host` with `p` (Device1 object at `device`): the checks, the passkey from the agent
/// (unless it pairs Just Works), both sides' bond records. `cancel` ends a pairing waiting for the agent
/// (CancelPairing): AuthenticationCanceled.
pub async fn pair(
    conn: &Connection,
    host: &Host,
    p: &Peripheral,
    firmware: &Shared,
    device: &str,
    cancel: &Notify,
) -> Result<(), BluezError> {
    if host.bonded_with(&p.address) {
        return Err(BluezError::AlreadyExists("Already Exists".into()));
    }
    if let Some(passkey) = p.passkey {
        let closed = lock(firmware).app.commissioned() && !knows(firmware, &host.address);
        if closed {
            return Err(BluezError::AuthenticationRejected(WINDOW_CLOSED.into()));
        }
        let agent = host.agents.live_for_pairing(conn).await.ok_or_else(|| {
            BluezError::AuthenticationFailed("no agent registered to enter the passkey".into())
        })?;
        let entered = tokio::select! {
            entered = agent::request_passkey(conn, &agent, device) => entered?,
            _ = cancel.notified() => {
                agent::cancel(conn, &agent);
                return Err(BluezError::AuthenticationCanceled("Authentication Canceled".into()));
            }
        };
        if entered != passkey {
            return Err(BluezError::AuthenticationFailed(
                "Authentication Failed".into(),
            ));
        }
        let mut fw = lock(firmware);
        if !fw.state.bonds.contains(&host.address) {
            fw.state.bonds.push(host.address.clone());
            fw.events
                .log("ble_bond", serde_json::json!({"central": host.address}));
            fw.save();
        }
    }
    host.bonds
        .add(&host.address, &p.address)
        .map_err(|e| BluezError::Failed(format!("bond not stored: {e}")))
}
