//! The catalogue of outside checks: a stable id for each and the guideline items it proves.
//!
//! References name the CERT-MU *Guideline on IoT Security* (2017) by section: `CERT-MU 3.1` is item 1 of section
//! 3.0 ("Make security the default"), and `CERT-MU 4.0 <category>` is a category of the manufacturer table in
//! section 4.0 (the OWASP IoT Top 10 categories). ETSI EN 303 645 (V2.1.1) provisions are named by number:
//! 5.1-1 (no universal default passwords: unique per device or set by the user), 5.1-4 (a simple way to change
//! the authentication value), 5.5-1 (best-practice cryptography to communicate securely), 5.6-1 (unused network
//! and logical interfaces disabled), 5.6-2 (minimal unauthenticated disclosure of security-relevant information)
//! and 5.6-5 (only services that are used or required are enabled).

use serde::{Deserialize, Serialize};

use super::{unix_now, CheckRecord};

const CERT_DEFAULT: &str = "CERT-MU 3.1 Make security the default";
const CERT_AUTH: &str = "CERT-MU 4.0 Insufficient Authentication/Authorization";
const CERT_SERVICES: &str = "CERT-MU 4.0 Insecure Network Services";
const CERT_TRANSPORT: &str = "CERT-MU 4.0 Lack of Transport Encryption";
const ETSI_DEFAULT_PW: &str = "ETSI EN 303 645 5.1-1";
const ETSI_CHANGE_PW: &str = "ETSI EN 303 645 5.1-4";
const ETSI_CRYPTO_COMMS: &str = "ETSI EN 303 645 5.5-1";
const ETSI_UNUSED_IF: &str = "ETSI EN 303 645 5.6-1";
const ETSI_DISCLOSURE: &str = "ETSI EN 303 645 5.6-2";
const ETSI_ONLY_NEEDED: &str = "ETSI EN 303 645 5.6-5";

/// One kind of outside check. [`CheckKind::id`] is stable: it is stored in inventories and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckKind {
    /// A factory default or well-known default credential no longer opens a service (`default-credential-refused`).
    DefaultCredentialRefused,
    /// The new credential Temper set is accepted by the service, proven from outside (`new-credential-confirmed`).
    NewCredentialAccepted,
    /// The new credential meets the profile's password policy (`credential-strength`).
    CredentialStrength,
    /// An extra factory account is locked (`extra-account-locked`).
    ExtraAccountLocked,
    /// A TCP port the profile does not allow is closed (`tcp-port-closed`).
    PortClosed,
    /// An open port is one the profile allows (`only-allowed-ports-open`).
    OnlyAllowedPortsOpen,
    /// A UDP service the profile does not allow no longer answers (`udp-port-closed`).
    UdpPortClosed,
    /// The device does not answer UPnP discovery (`upnp-ssdp-silent`).
    UpnpSilent,
    /// No cleartext remote shell (telnet) is reachable (`cleartext-shell-closed`).
    CleartextShellClosed,
    /// A TLS handshake proves the served chain: station CA, the device's name, the CSR key
    /// (`tls-chain-verified`).
    TlsChainVerified,
    /// A client offering only TLS 1.0 or TLS 1.1 is refused (`tls-old-protocols-refused`).
    TlsOldProtocolsRefused,
    /// No other unit of the model serves the same certificate; failing means a "shared factory
    /// certificate" (`factory-certificate-unique`).
    FactoryCertificateUnique,
    /// Plain HTTP no longer accepts the web admin's credential: it redirects to HTTPS or is closed
    /// (`plain-http-credential-refused`).
    PlainHttpCredentialRefused,
    /// A TLS client device presented its own certificate, chained to the station CA, with the key from its
    /// CSR, to a client-authenticating endpoint Temper ran (`tls-client-certificate-verified`).
    TlsClientCertificateVerified,
}

impl CheckKind {
    /// Every check kind, in catalogue order.
    pub const ALL: [CheckKind; 14] = [
        CheckKind::DefaultCredentialRefused,
        CheckKind::NewCredentialAccepted,
        CheckKind::CredentialStrength,
        CheckKind::ExtraAccountLocked,
        CheckKind::PortClosed,
        CheckKind::OnlyAllowedPortsOpen,
        CheckKind::UdpPortClosed,
        CheckKind::UpnpSilent,
        CheckKind::CleartextShellClosed,
        CheckKind::TlsChainVerified,
        CheckKind::TlsOldProtocolsRefused,
        CheckKind::FactoryCertificateUnique,
        CheckKind::PlainHttpCredentialRefused,
        CheckKind::TlsClientCertificateVerified,
    ];

    /// The stable kebab-case id, as stored in [`CheckRecord::id`].
    pub fn id(&self) -> &'static str {
        match self {
            CheckKind::DefaultCredentialRefused => "default-credential-refused",
            CheckKind::NewCredentialAccepted => "new-credential-confirmed",
            CheckKind::CredentialStrength => "credential-strength",
            CheckKind::ExtraAccountLocked => "extra-account-locked",
            CheckKind::PortClosed => "tcp-port-closed",
            CheckKind::OnlyAllowedPortsOpen => "only-allowed-ports-open",
            CheckKind::UdpPortClosed => "udp-port-closed",
            CheckKind::UpnpSilent => "upnp-ssdp-silent",
            CheckKind::CleartextShellClosed => "cleartext-shell-closed",
            CheckKind::TlsChainVerified => "tls-chain-verified",
            CheckKind::TlsOldProtocolsRefused => "tls-old-protocols-refused",
            CheckKind::FactoryCertificateUnique => "factory-certificate-unique",
            CheckKind::PlainHttpCredentialRefused => "plain-http-credential-refused",
            CheckKind::TlsClientCertificateVerified => "tls-client-certificate-verified",
        }
    }

    /// Parses [`CheckKind::id`] output.
    pub fn from_id(id: &str) -> Option<CheckKind> {
        CheckKind::ALL.into_iter().find(|k| k.id() == id)
    }

    /// The guideline items this check proves (see the module docs for what each names).
    pub fn guideline(&self) -> Vec<String> {
        let refs: &[&str] = match self {
            // Botnets try factory defaults (CERT-MU 3.1); the table asks for the option to change them.
            CheckKind::DefaultCredentialRefused => &[CERT_DEFAULT, CERT_AUTH, ETSI_DEFAULT_PW],
            CheckKind::NewCredentialAccepted => {
                &[CERT_DEFAULT, CERT_AUTH, ETSI_DEFAULT_PW, ETSI_CHANGE_PW]
            }
            // "Ensure that any access requiring authentication requires strong passwords."
            CheckKind::CredentialStrength => &[CERT_AUTH, ETSI_DEFAULT_PW],
            // A generic factory account is a default credential by another name.
            CheckKind::ExtraAccountLocked => &[CERT_DEFAULT, CERT_AUTH, ETSI_DEFAULT_PW],
            // "Ensure all devices operate with a minimal number of network ports active."
            CheckKind::PortClosed | CheckKind::OnlyAllowedPortsOpen | CheckKind::UdpPortClosed => {
                &[CERT_SERVICES, ETSI_UNUSED_IF, ETSI_ONLY_NEEDED]
            }
            // "... do not make network ports and/or services available to the internet via UPnP"; SSDP answers
            // also disclose model and firmware to anyone who asks.
            CheckKind::UpnpSilent => &[CERT_SERVICES, ETSI_UNUSED_IF, ETSI_DISCLOSURE],
            // A cleartext shell sends its password unencrypted, and is a service a camera does not need.
            CheckKind::CleartextShellClosed => &[
                CERT_TRANSPORT,
                CERT_SERVICES,
                ETSI_CRYPTO_COMMS,
                ETSI_UNUSED_IF,
            ],
            // "Ensure SSL/TLS implementations are up to date and properly configured": a certificate
            // that proves the device, no protocol older than TLS 1.2, and a key of the device's own (a
            // key shared by every unit of a model is known to anyone who extracts it from one).
            CheckKind::TlsChainVerified
            | CheckKind::TlsOldProtocolsRefused
            | CheckKind::FactoryCertificateUnique
            | CheckKind::TlsClientCertificateVerified => &[CERT_TRANSPORT, ETSI_CRYPTO_COMMS],
            // A credential that still works over plain HTTP can be sniffed or relayed; the admin must
            // require the encrypted transport.
            CheckKind::PlainHttpCredentialRefused => {
                &[CERT_TRANSPORT, CERT_AUTH, ETSI_CRYPTO_COMMS]
            }
        };
        refs.iter().map(|r| r.to_string()).collect()
    }

    /// A record of this check, timestamped now. `subject` and `detail` must never hold a secret.
    pub fn record(
        &self,
        subject: impl Into<String>,
        passed: bool,
        detail: impl Into<String>,
    ) -> CheckRecord {
        CheckRecord {
            id: self.id().to_string(),
            guideline: self.guideline(),
            subject: subject.into(),
            passed,
            detail: detail.into(),
            at: unix_now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Guards: check ids are stable and unique, and every check names CERT-MU and ETSI items.
    #[test]
    fn catalogue_ids_are_unique_and_cite_guidelines() {
        let ids: BTreeSet<&str> = CheckKind::ALL.iter().map(|k| k.id()).collect();
        assert_eq!(ids.len(), CheckKind::ALL.len());
        for kind in CheckKind::ALL {
            assert_eq!(CheckKind::from_id(kind.id()), Some(kind));
            let refs = kind.guideline();
            assert!(
                refs.iter().any(|r| r.starts_with("CERT-MU "))
                    && refs.iter().any(|r| r.starts_with("ETSI EN 303 645 "))
            );
        }
        let record = CheckKind::DefaultCredentialRefused.record(
            "telnet 127.0.0.5:23",
            true,
            "all 60 refused",
        );
        assert_eq!(record.id, "default-credential-refused");
        assert!(record
            .guideline
            .contains(&"CERT-MU 3.1 Make security the default".to_string()));
        assert!(record
            .guideline
            .contains(&"ETSI EN 303 645 5.1-1".to_string()));
        assert!(record.at > 0);
    }
}
