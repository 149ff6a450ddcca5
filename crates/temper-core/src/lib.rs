//! Temper's engine: it commissions and hardens IoT devices.
//!
//! Layers, bottom up (a lower layer never names a higher one):
//! - [`transport`]: a byte link to the device (serial now, BLE later).
//! - [`proto`]: protocol drivers as sans-I/O state machines (the console login shell now).
//! - [`profile`]: declarative per-model data, validated when it loads.
//! - [`discovery`]: which devices are plugged in (sysfs USB-serial, simulators) and which profile each matches.
//! - [`firmware`]: image uploads that survive the device resetting or re-plugging (reopened by the caller).
//! - [`checks`]: what Temper proves from outside the device (port scans, protocol probes, credential trials).
//! - [`plan`]: the hardening steps, each idempotent and resumable, reporting through [`event::Event`].
//! - [`inventory`]: the encrypted record of every device and its credentials.
//! - [`pki`]: the station CA and per-device certificates (CSR checks, signing, CRLs, chain verification).
//! - [`handover`], [`label`]: what is handed over, read from the inventory: the installer's HTML report (never a
//!   secret) and the credential label for the device's box (made only after an audited reveal).
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod checks;
pub mod discovery;
pub mod error;
pub mod event;
pub mod firmware;
pub mod handover;
pub mod inventory;
pub mod label;
pub mod pki;
pub mod plan;
pub mod profile;
pub mod proto;
pub mod secret;
pub mod transport;

pub use error::Error;
pub use secret::Secret;
