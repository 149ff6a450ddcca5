//! Outside checks: what Temper proves about a device from the network, never trusting what the device says.

use serde::{Deserialize, Serialize};

/// The result of one outside check, as stored in the inventory and shown in reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRecord {
    /// Stable check id, e.g. `default-credential-refused` (see [`CheckKind`]).
    pub id: String,
    /// The guideline items this check proves, e.g. `CERT-MU 3.1`, `ETSI EN 303 645 5.1-1`.
    pub guideline: Vec<String>,
    /// What was checked, e.g. `telnet 127.0.0.5:23` or `web-admin`. Never a secret.
    pub subject: String,
    /// True when the device passed.
    pub passed: bool,
    /// What was seen, for people. Never a secret.
    pub detail: String,
    /// When the check ran, seconds since the Unix epoch.
    pub at: u64,
}
