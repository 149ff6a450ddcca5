//! `temper ca init|export|import|crl`: the station CA, kept in the inventory (its key sealed there).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Subcommand, ValueEnum};
use temper_core::inventory::audit::{AuditAction, NewAuditEvent};
use temper_core::inventory::{CertState, Inventory, StationCaRecord};
use temper_core::pki::{self, CaKeyKind, Revoked, StationCa};
use temper_core::Secret;

use crate::{exit, Failure, Globals};

/// Key kinds a new station CA may use.
#[derive(Clone, Copy, ValueEnum)]
pub enum Kind {
    /// ECDSA P-256 (default).
    P256,
    /// ECDSA P-384.
    P384,
    /// Ed25519.
    Ed25519,
}

impl Kind {
    fn key_kind(self) -> (CaKeyKind, &'static str) {
        match self {
            Kind::P256 => (CaKeyKind::EcdsaP256, "ecdsa-p256"),
            Kind::P384 => (CaKeyKind::EcdsaP384, "ecdsa-p384"),
            Kind::Ed25519 => (CaKeyKind::Ed25519, "ed25519"),
        }
    }
}

/// CA subcommands.
#[derive(Subcommand)]
pub enum Cmd {
    /// Create the station CA (its key is sealed in the inventory, never written to a plain file).
    Init {
        /// Key kind.
        #[arg(long, value_enum, default_value = "p256")]
        kind: Kind,
        /// The CA's common name.
        #[arg(long, default_value = "Temper station CA")]
        name: String,
    },
    /// Write the CA certificate as PEM (for the trust store of your other systems).
    Export {
        /// File to write (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Use a CA issued by your own root (an intermediate) as the station CA.
    Import {
        /// Its certificate (PEM; must be a CA).
        #[arg(long)]
        cert: PathBuf,
        /// Its private key (PKCS#8 PEM; must match the certificate).
        #[arg(long)]
        key: PathBuf,
    },
    /// Write a certificate revocation list (PEM) of every revoked device certificate.
    Crl {
        /// File to write (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Days until the next CRL is due.
        #[arg(long, default_value_t = 30)]
        days: u64,
    },
}

fn no_ca() -> Failure {
    Failure::new(
        exit::USAGE,
        "this inventory has no station CA yet: run `temper ca init` (or `ca import`)",
    )
}

fn ca_failure(e: impl std::fmt::Display) -> Failure {
    Failure::new(exit::USAGE, e)
}

fn write_out(out: Option<&Path>, text: &str) -> Result<(), Failure> {
    match out {
        Some(path) => std::fs::write(path, text).map_err(|e| {
            Failure::new(exit::USAGE, format!("cannot write {}: {e}", path.display()))
        }),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

impl Cmd {
    /// Runs the subcommand.
    pub fn run(self, globals: &Globals) -> Result<u8, Failure> {
        let mut inventory = super::open_inventory(globals)?;
        match self {
            Cmd::Init { kind, name } => {
                let (key_kind, label) = kind.key_kind();
                let ca =
                    StationCa::generate(key_kind, &name, SystemTime::now()).map_err(ca_failure)?;
                let record = StationCaRecord {
                    cert_pem: ca.cert_pem().to_string(),
                    key_pem: ca.key_pem(),
                    kind: label.to_string(),
                    imported: false,
                    created_at: 0,
                };
                inventory
                    .put_station_ca(&record)
                    .map_err(super::inventory_failure)?;
                eprintln!(
                    "Created the station CA {name:?} ({label}), fingerprint {}.\nExport its certificate with `temper ca export`.",
                    pki::fingerprint_sha256(ca.cert_der())
                );
                Ok(exit::HARDENED)
            }
            Cmd::Import { cert, key } => {
                let read = |p: &Path| {
                    std::fs::read_to_string(p).map_err(|e| {
                        Failure::new(exit::USAGE, format!("cannot read {}: {e}", p.display()))
                    })
                };
                let cert_pem = read(&cert)?;
                let key_pem = Secret::new(read(&key)?);
                let ca = StationCa::from_pem(&cert_pem, &key_pem).map_err(ca_failure)?;
                let record = StationCaRecord {
                    cert_pem: ca.cert_pem().to_string(),
                    key_pem: ca.key_pem(),
                    kind: "imported".into(),
                    imported: true,
                    created_at: 0,
                };
                inventory
                    .put_station_ca(&record)
                    .map_err(super::inventory_failure)?;
                eprintln!(
                    "Imported the station CA, fingerprint {}.",
                    pki::fingerprint_sha256(ca.cert_der())
                );
                Ok(exit::HARDENED)
            }
            Cmd::Export { out } => {
                let Some(record) = inventory.station_ca().map_err(super::inventory_failure)? else {
                    return Err(no_ca());
                };
                write_out(out.as_deref(), &record.cert_pem)?;
                Ok(exit::HARDENED)
            }
            Cmd::Crl { out, days } => {
                let Some(record) = inventory.station_ca().map_err(super::inventory_failure)? else {
                    return Err(no_ca());
                };
                let ca =
                    StationCa::from_pem(&record.cert_pem, &record.key_pem).map_err(ca_failure)?;
                let mut revoked = Vec::new();
                for device in inventory.devices().map_err(super::inventory_failure)? {
                    for cert in inventory
                        .device_certs(&device.serial)
                        .map_err(super::inventory_failure)?
                    {
                        if cert.state == CertState::Revoked {
                            revoked.push(Revoked {
                                serial: pki::certificate_serial(&cert.cert_pem)
                                    .map_err(ca_failure)?,
                                revoked_at: UNIX_EPOCH + Duration::from_secs(cert.at),
                            });
                        }
                    }
                }
                let now = crate::fault::station_now().map_err(|e| Failure::new(exit::USAGE, e))?;
                let crl = ca
                    .crl(&revoked, now, now + Duration::from_secs(days * 86_400))
                    .map_err(ca_failure)?;
                let event = NewAuditEvent::new(inventory.actor(), AuditAction::CrlIssued)
                    .detail(serde_json::json!({ "revoked": revoked.len() }));
                inventory
                    .record_event(&event)
                    .map_err(super::inventory_failure)?;
                write_out(out.as_deref(), &crl)?;
                Ok(exit::HARDENED)
            }
        }
    }
}
