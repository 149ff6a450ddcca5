//! Zephyr MCUmgr / SMP: the Simple Management Protocol that Zephyr's MCUmgr subsystem speaks, used to
//! upload and confirm firmware images, reset, set the clock, read and write settings, run shell commands
//! and echo on a device.
//!
//! - [`header`]: the 8-byte SMP header and [`header::SmpError`]; [`codes`]: names of groups and error codes.
//! - [`messages`]: every command as a type ([`messages::Request`]), one file per management group.
//! - [`serial`]: the "SMP over console" transport framing, a sans-I/O codec (packet bytes in, console
//!   lines out, and back), tolerant of log output interleaved between frames and bounded in memory.
//! - [`upload`]: the sans-I/O image upload planner (chunk sizes from the device's buffers, pipelining, resume)
//!   and the [`upload::UploadEvent`]s an upload reports.
//! - [`client`]: [`client::SmpClient`], the codec driven over a [`crate::transport::Link`].
//! - [`testing`]: an in-memory SMP device that answers like Zephyr and misbehaves on request, for tests.
//!
//! This layer knows links, not devices: finding a device again after it reset is
//! [`crate::firmware`]'s business.
pub mod client;
pub mod codes;
pub mod header;
pub mod messages;
pub mod packets;
pub mod serial;
pub mod testing;
pub mod upload;
