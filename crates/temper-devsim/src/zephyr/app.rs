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
use super::variant::Variant;
use crate::wire::digest::{ha1, Nonces};
use crate::SimError;

/// HTTP admin: user name and the sensor's Digest realm (each variant's: [`Variant::http_realm`]).
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
    /// Which product this firmware is.
    pub(crate) variant: Variant,
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
        App::new(Variant::default())
    }
}

impl App {
    /// The application of `variant`, in its factory state until the first [`App::reboot`].
    pub(crate) fn new(variant: Variant) -> App {
        let settings = Settings::factory(variant);
        App {
            variant,
            ip: Ipv4Addr::LOCALHOST,
            http_ha1: password_ha1(variant, settings.get(ADMIN_PW)),
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

    /// A boot: RAM state reset, settings and credentials read from `dir`, the admin password applied. The
    /// services are [`super::net::on_boot`]'s business.
    pub(crate) fn reboot(&mut self, dir: &Path, ip: Ipv4Addr) -> Result<(), SimError> {
        self.settings = Settings::load(dir, self.variant)?;
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
        self.http_ha1 = password_ha1(self.variant, self.settings.get(ADMIN_PW));
    }

    /// Whether the device was commissioned: the admin password in force (applied at the last commit or
    /// boot) is no longer the factory one.
    pub fn commissioned(&self) -> bool {
        self.http_ha1 != password_ha1(self.variant, self.variant.factory_value(ADMIN_PW))
    }
}

fn password_ha1(variant: Variant, password: Option<&str>) -> String {
    ha1(
        HTTP_USER,
        variant.http_realm(),
        password.unwrap_or_default(),
    )
}
