//! Credential trials from outside, per credential store: which protocol proves a credential for it.

use std::net::SocketAddr;

use crate::checks::{
    http_digest_login, https_digest_login, rtsp_digest_login, telnet_login, AuthOutcome,
    CheckError, UnixTime,
};
use crate::inventory::CertState;
use crate::pki::ServerName;
use crate::plan::context::Run;
use crate::plan::PlanError;
use crate::profile::{Confirm, CredentialStore, Profile, ServiceSpec};
use crate::Secret;

/// How a store's credential is tried from outside.
#[derive(Clone)]
pub(crate) enum Trial {
    /// HTTP Digest against `path`.
    Http { addr: SocketAddr, path: String },
    /// HTTP Digest over TLS, the chain verified against the station CA before anything is sent.
    Https {
        addr: SocketAddr,
        path: String,
        ca_pem: String,
        now: UnixTime,
    },
    /// RTSP Digest DESCRIBE of `path`.
    Rtsp { addr: SocketAddr, path: String },
    /// A telnet login. Cleartext: used only to try known factory defaults, never a new credential.
    Telnet { addr: SocketAddr },
}

impl Trial {
    /// The trial for `store`'s own confirmation method (challenge-response only), if it has one.
    ///
    /// The web admin moves to HTTPS once the device serves its own certificate (the profile's
    /// `certificate.plain_http`): from then on its store is tried there, against the station CA.
    pub fn confirm_for(run: &Run<'_, '_>, store: &CredentialStore) -> Option<Trial> {
        if let Some(trial) = Self::https_for(run, store) {
            return Some(trial);
        }
        match &store.confirm {
            Confirm::HttpDigest { port, path } => Some(Trial::Http {
                addr: SocketAddr::new(run.address, *port),
                path: path.clone(),
            }),
            Confirm::RtspDigest { port, path } => Some(Trial::Rtsp {
                addr: SocketAddr::new(run.address, *port),
                path: path.clone(),
            }),
            Confirm::ConsoleLogin => None,
        }
    }

    fn https_for(run: &Run<'_, '_>, store: &CredentialStore) -> Option<Trial> {
        let spec = run.profile.certificate.as_ref()?;
        let http = spec
            .plain_http
            .as_ref()
            .filter(|h| h.credential == store.id)?;
        let port = run.profile.tls_service()?.port;
        let certs = run.inventory.device_certs(&run.device.serial).ok()?;
        certs.iter().find(|c| c.state == CertState::Active)?;
        let ca = run.inventory.station_ca().ok()??;
        Some(Trial::Https {
            addr: SocketAddr::new(run.address, port),
            path: http.path.clone(),
            ca_pem: ca.cert_pem,
            now: run.station_unix_time(),
        })
    }

    /// The trial of default credentials against the network service that `store` guards.
    pub fn defaults_for(
        run: &Run<'_, '_>,
        store: &CredentialStore,
    ) -> Option<(Trial, ServiceSpec)> {
        let service = service_of(&run.profile, store)?;
        let addr = SocketAddr::new(run.address, service.port);
        let trial = match &store.confirm {
            Confirm::HttpDigest { path, .. } => Trial::Http {
                addr,
                path: path.clone(),
            },
            Confirm::RtspDigest { path, .. } => Trial::Rtsp {
                addr,
                path: path.clone(),
            },
            Confirm::ConsoleLogin => Trial::Telnet { addr },
        };
        Some((trial, service))
    }

    /// Tries one credential.
    pub async fn attempt(
        &self,
        profile: &Profile,
        user: &str,
        secret: &Secret,
    ) -> Result<AuthOutcome, CheckError> {
        match self {
            Trial::Http { addr, path } => http_digest_login(*addr, path, user, secret).await,
            Trial::Https {
                addr,
                path,
                ca_pem,
                now,
            } => {
                let name = ServerName::IpAddress(addr.ip().into());
                https_digest_login(*addr, path, user, secret, ca_pem, name, *now).await
            }
            Trial::Rtsp { addr, path } => rtsp_digest_login(*addr, path, user, secret).await,
            Trial::Telnet { addr } => {
                let Some(c) = &profile.console else {
                    return Err(CheckError::Protocol {
                        addr: *addr,
                        expected: "a login the profile describes (it has no [console] prompts)"
                            .into(),
                        got: "a telnet service".into(),
                    });
                };
                telnet_login(
                    *addr,
                    user,
                    secret,
                    &c.login_prompt,
                    &c.password_prompt,
                    &c.shell_prompt,
                    &c.login_failed,
                )
                .await
            }
        }
    }

    /// The service address.
    pub fn addr(&self) -> SocketAddr {
        match self {
            Trial::Http { addr, .. }
            | Trial::Https { addr, .. }
            | Trial::Rtsp { addr, .. }
            | Trial::Telnet { addr } => *addr,
        }
    }

    /// A short name of the protocol.
    pub fn protocol(&self) -> &'static str {
        match self {
            Trial::Http { .. } => "HTTP Digest",
            Trial::Https { .. } => "HTTPS Digest (station CA)",
            Trial::Rtsp { .. } => "RTSP Digest",
            Trial::Telnet { .. } => "telnet",
        }
    }
}

/// The service a store guards.
pub(crate) fn service_of(profile: &Profile, store: &CredentialStore) -> Option<ServiceSpec> {
    profile.service(&store.service).cloned()
}

/// Tries one credential for `store` with its confirmation method (challenge-response, never cleartext).
pub(crate) async fn try_credential(
    run: &Run<'_, '_>,
    store: &CredentialStore,
    user: &str,
    secret: &Secret,
) -> Result<AuthOutcome, PlanError> {
    let trial = Trial::confirm_for(run, store).ok_or_else(|| PlanError::ProfileIncomplete {
        profile: run.profile.id.clone(),
        message: format!("credential {} has no outside confirmation method", store.id),
    })?;
    Ok(trial.attempt(&run.profile, user, secret).await?)
}
