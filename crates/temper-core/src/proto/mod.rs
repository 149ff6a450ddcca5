//! Protocol drivers: sans-I/O state machines that turn device bytes into typed results.
pub mod console;
pub mod smp;
