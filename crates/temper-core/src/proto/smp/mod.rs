//! Zephyr MCUmgr / SMP: the Simple Management Protocol that Zephyr's MCUmgr subsystem speaks, used to
//! upload and confirm firmware images, reset, echo and read parameters on a device.
//!
//! - [`serial`]: the "SMP over console" transport framing, a sans-I/O codec (packet bytes in, console
//!   lines out, and back), tolerant of log output interleaved between frames and bounded in memory.
//! - [`upload`]: the sans-I/O image upload planner (chunk sizes from the device's buffers, pipelining, resume).
//! - [`client`]: [`client::SmpClient`], the codec driven over a [`crate::transport::Link`].
pub mod client;
pub mod header;
pub mod messages;
pub mod serial;
pub mod upload;
