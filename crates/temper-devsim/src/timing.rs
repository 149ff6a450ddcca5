//! Modelled delays of the simulated devices. A benchmark computes its floor from these, so every
//! deliberate wait of the simulator is a constant here.

use std::time::Duration;

/// Default UART speed.
pub const DEFAULT_BAUD: u32 = 115_200;
/// Processing time of an ordinary shell command before its output starts.
pub const COMMAND_MS: u64 = 30;
/// Processing time of `cfgcli` (it writes the config partition).
pub const CFGCLI_MS: u64 = 150;
/// Time `passwd` takes to write the shadow file after a successful dialog.
pub const PASSWD_OK_MS: u64 = 200;
/// `certtool genkey`: key generation on the camera's SoC.
pub const CERT_GENKEY_MS: u64 = 400;
/// `certtool csr`: building and signing the request.
pub const CERT_CSR_MS: u64 = 120;
/// `certtool install`: checking the chain and writing it to flash, after the `EOF` line.
pub const CERT_INSTALL_MS: u64 = 150;
/// Console login: time to check the password (success or failure).
pub const LOGIN_CHECK_MS: u64 = 300;
/// Console login: extra delay after a failed check, before `Login incorrect`.
pub const LOGIN_FAIL_MS: u64 = 1000;
/// Telnet login: delay after a failed check.
pub const TELNET_FAIL_MS: u64 = 200;
/// Telnet: failed logins before the connection is closed.
pub const TELNET_MAX_TRIES: u32 = 3;
/// Boot sequence: total modelled time spread over the boot log lines (excluding line time).
pub const BOOT_MS: u64 = 1500;
/// Shutdown part of `reboot` before the boot sequence starts again.
pub const REBOOT_SHUTDOWN_MS: u64 = 500;
/// Unsolicited kernel lines while the shell is idle: at most one per this interval.
pub const KERNEL_IDLE_MIN_MS: u64 = 10_000;
/// Output that nobody reads within this time after the console went quiet is lost, like bytes sent
/// on a UART with no listener (only when no host holds the port open exclusively).
pub const UNREAD_DISCARD_MS: u64 = 1500;

/// Bytes per second on the line at `baud` (8N1: 10 bit times per byte).
pub fn bytes_per_sec(baud: u32) -> f64 {
    (baud.max(10) as f64) / 10.0
}

/// Time to move `bytes` over the line at `baud`.
pub fn line_time(bytes: usize, baud: u32) -> Duration {
    Duration::from_secs_f64(bytes as f64 / bytes_per_sec(baud))
}

pub fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}
