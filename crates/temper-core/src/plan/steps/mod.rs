//! One module per plan step. Each step checks the device, acts only when needed, verifies, and returns
//! `AlreadyDone` when there was nothing to change.

pub(crate) mod accounts;
pub(crate) mod baseline;
pub(crate) mod certificate;
pub(crate) mod identify;
mod outside;
pub(crate) mod record;
pub(crate) mod rotate;
pub(crate) mod services;
mod station;
pub(crate) mod trials;
pub(crate) mod verify;
pub(crate) mod verify_tls;
