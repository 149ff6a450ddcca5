//! The sensor application beside the SMP server: settings, TLS credentials, the clock, the network services
//! and the shell's RAM state. It lives in [`super::smp::Server::app`], so everything here is under the one
//! server lock; nothing here awaits.
//!
//! On disk (state directory): `settings.json` ([`super::settings`]) and `creds.json` ([`super::cred`]). In
//! RAM only, reset at every boot ([`App::reboot`]): the clock (1970), the `cred buf` staging buffer, the last
//! MQTT outcome, the HTTP nonces.

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Arc;

use temper_core::proto::smp::header::Header;

use super::clock::Clock;
use super::cred::CredStore;
use super::mqtt::{Job, Last};
use super::net::Services;
use super::settings::{Settings, ADMIN_PW};
use crate::wire::digest::{ha1, Nonces};
use crate::SimError;

/// HTTP admin: user name and Digest realm.
pub const HTTP_USER: &str = "admin";
pub const HTTP_REALM: &str = "NS-ENV1";

/// A shell exec (9/0) whose reply waits for an MQTT connection, made by [`super::net::answer`] once the
/// server lock is released.
pub(crate) struct Deferred {
    pub header: Header,
    pub job: Job,
}

/// See the module doc.
pub struct App {
    /// The device's address (its services listen here; `net iface` shows it).
    pub(crate) ip: Ipv4Addr,
    pub(crate) settings: Settings,
    pub(crate) creds: CredStore,
    pub(crate) clock: Clock,
    /// `cred buf` text not yet added.
    pub(crate) cred_buf: String,
    pub(crate) mqtt_last: Last,
    /// HA1 of the password the HTTP admin takes now (applied at boot and commit, not at write).
    pub(crate) http_ha1: String,
    pub(crate) nonces: Arc<Nonces>,
    /// A settings commit the services have not applied yet ([`super::net::settle`]).
    pub(crate) commit_pending: bool,
    pub(crate) deferred: Option<Deferred>,
    pub(crate) services: Services,
}

impl Default for App {
    fn default() -> Self {
        let settings = Settings::default();
        App {
            ip: Ipv4Addr::LOCALHOST,
            http_ha1: password_ha1(&settings),
            settings,
            creds: CredStore::default(),
            clock: Clock::boot(),
            cred_buf: String::new(),
            mqtt_last: Last::Never,
            nonces: Arc::default(),
            commit_pending: false,
            deferred: None,
            services: Services::default(),
        }
    }
}

impl App {
    /// A boot: RAM state reset, settings and credentials read from `dir`, the admin password applied. The
    /// services are [`super::net::on_boot`]'s business.
    pub(crate) fn reboot(&mut self, dir: &Path, ip: Ipv4Addr) -> Result<(), SimError> {
        self.settings = Settings::load(dir)?;
        self.creds = CredStore::load(dir)?;
        self.ip = ip;
        self.clock = Clock::boot();
        self.cred_buf.clear();
        self.mqtt_last = Last::Never;
        self.nonces.clear();
        self.commit_pending = false;
        self.deferred = None;
        self.apply_password();
        Ok(())
    }

    /// The HTTP admin takes the password of the settings from now on.
    pub(crate) fn apply_password(&mut self) {
        self.http_ha1 = password_ha1(&self.settings);
    }
}

fn password_ha1(settings: &Settings) -> String {
    ha1(
        HTTP_USER,
        HTTP_REALM,
        settings.get(ADMIN_PW).unwrap_or_default(),
    )
}
