//! TLS identity of the camera: the factory certificate shared by every unit of the model, keys made
//! on the device, and the rustls configuration httpsd serves.

use std::sync::{Arc, Weak};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::ServerConfig;
use rustls::time_provider::TimeProvider;

use super::Device;
pub use crate::devkey::{fingerprint, generate_key, key_pair, spki_der};

/// The certificate every SV-IPC2100 ships with (self-signed, `CN=Simvision Factory`, P-256,
/// 2019-01-01..2049-01-01). See `data/README.md`.
pub const FACTORY_CERT_PEM: &str = include_str!("../../data/ipcam-factory-cert.pem");
/// Its private key: identical on every unit, hence public by design.
pub const FACTORY_KEY_PEM: &str = include_str!("../../data/ipcam-factory-key.pem");

/// Key types `certtool genkey --type` accepts; the first is the default.
pub const KEY_TYPES: &[&str] = &["ec-p256", "ec-p384", "ed25519"];

/// The device clock as rustls' time source.
#[derive(Debug)]
struct DeviceClock(Weak<Device>);

impl TimeProvider for DeviceClock {
    fn current_time(&self) -> Option<UnixTime> {
        let dev = self.0.upgrade()?;
        let secs = u64::try_from(dev.now_unix()).unwrap_or(0);
        Some(UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            secs,
        )))
    }
}

/// What httpsd serves when it starts now: the installed chain (ipcam-pro: the active slot's) and its
/// key, or the factory pair. Returns the configuration and the leaf's fingerprint.
pub fn server_config(dev: &Arc<Device>) -> Result<(Arc<ServerConfig>, String), String> {
    let (chain_pem, key_pem) = dev.with_state(|s| match s.tls.serving_chain() {
        Some(inst) => (inst.chain_pem.concat(), inst.key.pkcs8_pem.clone()),
        None => (FACTORY_CERT_PEM.to_string(), FACTORY_KEY_PEM.to_string()),
    });
    config_from_pem(
        &chain_pem,
        &key_pem,
        Arc::new(DeviceClock(Arc::downgrade(dev))),
    )
}

/// A TLS 1.2/1.3 server configuration (ring provider) for a PEM chain and PKCS#8 key.
fn config_from_pem(
    chain_pem: &str,
    key_pem: &str,
    clock: Arc<dyn TimeProvider>,
) -> Result<(Arc<ServerConfig>, String), String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("certificate chain: {e}"))?;
    let leaf = chain.first().ok_or("empty certificate chain")?;
    let fp = fingerprint(leaf.as_ref());
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| format!("key: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_details(provider, clock)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| e.to_string())?;
    Ok((Arc::new(config), fp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factory_pair_loads_and_matches() {
        let cert = CertificateDer::from_pem_slice(FACTORY_CERT_PEM.as_bytes()).unwrap();
        let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).unwrap();
        let key = rcgen::KeyPair::from_pem(FACTORY_KEY_PEM).unwrap();
        assert_eq!(
            parsed.public_key().raw,
            rcgen::PublicKeyData::subject_public_key_info(&key).as_slice()
        );
        assert_eq!(
            fingerprint(cert.as_ref()),
            "4e62912de781820e10742c9243b665ffeced1dc00621600d5a455749a6e0cc3c"
        );
    }

    #[test]
    fn every_key_type_round_trips() {
        for kind in KEY_TYPES {
            let key = generate_key(kind).unwrap();
            assert!(key.pkcs8_pem.contains("PRIVATE KEY"));
            assert!(!format!("{key:?}").contains("PRIVATE KEY"));
            assert!(!spki_der(&key).unwrap().is_empty());
        }
        assert!(generate_key("rsa-1024").is_err());
    }

    #[test]
    fn httpsd_serves_every_key_type() {
        #[derive(Debug)]
        struct Fixed;
        impl TimeProvider for Fixed {
            fn current_time(&self) -> Option<UnixTime> {
                Some(UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                    0,
                )))
            }
        }
        for kind in KEY_TYPES {
            let key = generate_key(kind).unwrap();
            let cert = rcgen::CertificateParams::new(vec!["cam.local".to_string()])
                .unwrap()
                .self_signed(&key_pair(&key).unwrap())
                .unwrap();
            let (_, fp) = config_from_pem(&cert.pem(), &key.pkcs8_pem, Arc::new(Fixed)).unwrap();
            assert_eq!(fp, fingerprint(cert.der()));
        }
        let (_, fp) = config_from_pem(FACTORY_CERT_PEM, FACTORY_KEY_PEM, Arc::new(Fixed)).unwrap();
        assert_eq!(
            fp,
            fingerprint(&CertificateDer::from_pem_slice(FACTORY_CERT_PEM.as_bytes()).unwrap())
        );
    }
}
