//! Fault injection for crash-safety tests: `TEMPER_FAULT_STOP_AT=<event key>` makes this process stop itself
//! (SIGSTOP) right after emitting the event with that key (see `temper_core::event::Event::key`), so that a test
//! can inspect the inventory and the device at that exact point and then kill or continue the process.

use nix::sys::signal::{raise, Signal};

/// The stop point, read once from the environment.
pub struct FaultPoint(Option<String>);

impl FaultPoint {
    /// Reads `TEMPER_FAULT_STOP_AT`.
    pub fn from_env() -> Self {
        FaultPoint(
            std::env::var("TEMPER_FAULT_STOP_AT")
                .ok()
                .filter(|s| !s.is_empty()),
        )
    }

    /// Stops the process if `key` is the stop point.
    pub fn reached(&self, key: &str) {
        if self.0.as_deref() == Some(key) {
            use std::io::Write;
            let _ = std::io::stdout().flush();
            let _ = std::io::stderr().flush();
            let _ = raise(Signal::SIGSTOP);
        }
    }
}

/// Test clock: `TEMPER_TEST_CLOCK_OFFSET=<seconds>` moves the station's clock (certificate times, the device
/// clock Temper sets, TLS verification) by that many seconds, so tests can reach expiry without waiting.
/// A value that is not an integer is refused loudly rather than ignored.
pub fn clock_offset() -> Result<i64, String> {
    match std::env::var("TEMPER_TEST_CLOCK_OFFSET") {
        Ok(v) if !v.is_empty() => v
            .parse()
            .map_err(|_| format!("TEMPER_TEST_CLOCK_OFFSET={v:?} is not a number of seconds")),
        _ => Ok(0),
    }
}

/// The station's time: the system clock moved by [`clock_offset`].
pub fn station_now() -> Result<std::time::SystemTime, String> {
    let offset = clock_offset()?;
    let shift = std::time::Duration::from_secs(offset.unsigned_abs());
    let now = std::time::SystemTime::now();
    Ok(if offset >= 0 {
        now + shift
    } else {
        now - shift
    })
}
