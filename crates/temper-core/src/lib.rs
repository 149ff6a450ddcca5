//! Temper's engine: it commissions and hardens IoT devices.
//!
//! Layers, bottom up (a lower layer never names a higher one):
//! - [`transport`]: a byte link to the device (serial now, BLE later).
//! - [`proto`]: protocol drivers as sans-I/O state machines (the console login shell now).
//! - [`profile`]: declarative per-model data, validated when it loads.
//! - [`checks`]: what Temper proves from outside the device (port scans, protocol probes, credential trials).
//! - [`plan`]: the hardening steps, each idempotent and resumable, reporting through [`event::Event`].
//! - [`inventory`]: the encrypted record of every device and its credentials.
//! - [`pki`]: the station CA and per-device certificates (CSR checks, signing, CRLs, chain verification).
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod checks;
pub mod error;
pub mod event;
pub mod inventory;
pub mod pki;
pub mod plan;
pub mod profile;
pub mod proto;
pub mod secret;
pub mod transport;

pub use error::Error;
pub use secret::Secret;
