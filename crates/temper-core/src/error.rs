//! The top-level error: one enum per area, joined here.

/// Any error from the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The link to the device failed.
    #[error(transparent)]
    Transport(#[from] crate::transport::TransportError),
}
