//! Conformance: the station CA (its key sealed, stored once) and device certificates.

use super::{with_device, Open};
use crate::inventory::audit::AuditAction;
use crate::inventory::{CertState, DeviceCertRecord, Inventory, InventoryError, StationCaRecord};
use crate::Secret;

/// A CA record for tests (not a real key: the inventory stores what it is given).
pub fn sample_ca() -> StationCaRecord {
    StationCaRecord {
        cert_pem: "-----BEGIN CERTIFICATE-----\nTUlJQ2FDQ0FnPQ==\n-----END CERTIFICATE-----\n"
            .into(),
        key_pem: Secret::new(
            "-----BEGIN PRIVATE KEY-----\nU2VjcmV0LUNBLUtleQ==\n-----END PRIVATE KEY-----\n",
        ),
        kind: "ecdsa-p256".into(),
        imported: false,
        created_at: 0,
    }
}

/// The station CA is stored once (a second one is refused), survives a reopen with its key, and is audited.
pub fn station_ca_is_stored_once_and_survives_reopen<I: Inventory>(
    factory: &mut impl FnMut(Open) -> I,
) {
    let mut inv = factory(Open::Fresh);
    assert_eq!(inv.station_ca().unwrap(), None, "a new inventory has no CA");
    inv.put_station_ca(&sample_ca()).unwrap();
    assert!(
        matches!(
            inv.put_station_ca(&sample_ca()),
            Err(InventoryError::CaExists)
        ),
        "a second CA must be refused"
    );
    drop(inv);
    let inv = factory(Open::Reopen);
    let ca = inv.station_ca().unwrap().expect("the CA survives a reopen");
    assert_eq!(ca.key_pem, sample_ca().key_pem);
    assert_eq!(ca.cert_pem, sample_ca().cert_pem);
    assert!(
        !format!("{ca:?}").contains("U2VjcmV0"),
        "Debug never shows the CA key"
    );
    let actions: Vec<AuditAction> = inv
        .audit_events(None)
        .unwrap()
        .iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.contains(&AuditAction::CaCreated), "{actions:?}");
}

/// Device certificates round-trip with their states; issuing one is audited once.
pub fn device_certs_roundtrip_and_issuing_is_audited<I: Inventory>(
    factory: &mut impl FnMut(Open) -> I,
) {
    let mut inv = with_device(factory, "SN-CERT");
    let mut cert = DeviceCertRecord {
        fingerprint: "ab".repeat(32),
        cert_pem: "-----BEGIN CERTIFICATE-----\nTGVhZg==\n-----END CERTIFICATE-----\n".into(),
        not_after: 1_900_000_000,
        state: CertState::Pending,
        at: 0,
    };
    inv.put_device_cert("SN-CERT", &cert).unwrap();
    cert.state = CertState::Active;
    inv.put_device_cert("SN-CERT", &cert).unwrap();
    let certs = inv.device_certs("SN-CERT").unwrap();
    assert_eq!(certs.len(), 1, "one certificate, its state updated");
    assert_eq!(certs[0].state, CertState::Active);
    assert_eq!(certs[0].fingerprint, cert.fingerprint);
    let issued = inv
        .audit_events(Some("SN-CERT"))
        .unwrap()
        .into_iter()
        .filter(|e| e.action == AuditAction::CertificateIssued)
        .count();
    assert_eq!(
        issued, 1,
        "issuing is audited once, not on each state change"
    );
    cert.state = CertState::Active;
    inv.put_device_cert("SN-CERT", &cert).unwrap();
    cert.state = CertState::Revoked;
    inv.put_device_cert("SN-CERT", &cert).unwrap();
    inv.put_device_cert("SN-CERT", &cert).unwrap();
    let count = |action: AuditAction| {
        inv.audit_events(Some("SN-CERT"))
            .unwrap()
            .iter()
            .filter(|e| e.action == action)
            .count()
    };
    assert_eq!(
        count(AuditAction::CertificateActivated),
        1,
        "activation is audited once, even if recorded twice"
    );
    assert_eq!(count(AuditAction::CertificateRevoked), 1);
    assert_eq!(
        inv.device_certs("SN-CERT").unwrap()[0].state,
        CertState::Revoked
    );
    assert!(inv.device_certs("SN-NONE").unwrap().is_empty());
}
