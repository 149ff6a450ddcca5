//! The station CA and per-device certificates, checked against OpenSSL as the real peer.

use rcgen::{
    BasicConstraints, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use std::net::IpAddr;
use std::time::{Duration, SystemTime};
use temper_core::pki::{
    check_csr, verify_served_chain, CaError, CaKeyKind, CertPolicy, ChallengeField, CsrError,
    CsrKey, DeviceIdentity, Revoked, ServerName, StationCa, VerifyError,
};
use x509_parser::extensions::{GeneralName, ParsedExtension};

#[path = "pki/support.rs"]
mod support;
use support::*;

#[test]
fn openssl_csr_is_accepted_and_openssl_verifies_what_every_ca_kind_signs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let csr = checked(&openssl_csr(d, P256, Some(CHALLENGE), &[]));
    assert_eq!(csr.key(), CsrKey::EcdsaP256);
    let rsa_ca = openssl_rsa_ca(d);
    let cas = [
        ca(CaKeyKind::EcdsaP256),
        ca(CaKeyKind::EcdsaP384),
        ca(CaKeyKind::Ed25519),
        rsa_ca,
    ];
    for station in cas {
        let now = SystemTime::now();
        let cert = station.sign(&csr, &policy(), &identity(), now).unwrap();
        std::fs::write(d.join("ca.pem"), station.cert_pem()).unwrap();
        std::fs::write(d.join("leaf.pem"), &cert.pem).unwrap();
        let (ok, text) = openssl(d, &["verify", "-CAfile", "ca.pem", "leaf.pem"]);
        assert!(ok && text.contains("leaf.pem: OK"), "{station:?}: {text}");
        let name = ServerName::try_from("cam-0042.local").unwrap();
        let peer = verify_served_chain(
            std::slice::from_ref(&cert.der),
            station.cert_pem(),
            &name,
            csr.spki_der(),
            now,
        )
        .unwrap();
        assert_eq!(peer.leaf_fingerprint_sha256, cert.fingerprint_sha256);
    }
}

#[test]
fn rsa_2048_ed25519_and_p384_csrs_pass_and_a_subject_field_can_carry_the_challenge() {
    let dir = tempfile::tempdir().unwrap();
    let rsa = checked(&openssl_csr(
        dir.path(),
        &["-newkey", "rsa:2048"],
        Some(CHALLENGE),
        &[],
    ));
    assert_eq!(rsa.key(), CsrKey::Rsa { bits: 2048 });
    let ed = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    assert_eq!(
        checked(&rcgen_csr(&ed, Some(CHALLENGE), |_| {})).key(),
        CsrKey::Ed25519
    );
    let p384 = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    assert_eq!(
        checked(&rcgen_csr(&p384, Some(CHALLENGE), |_| {})).key(),
        CsrKey::EcdsaP384
    );
    let ou = CertPolicy {
        challenge_field: ChallengeField::SubjectField("OU".into()),
        ..policy()
    };
    let csr = rcgen_csr(&ed, None, |p| {
        p.distinguished_name
            .push(DnType::OrganizationalUnitName, CHALLENGE)
    });
    assert!(check_csr(&csr, &ou, &identity(), CHALLENGE).is_ok());
    let err = check_csr(&csr, &ou, &identity(), "another").unwrap_err();
    assert!(matches!(err, CsrError::ChallengeMismatch(_)), "{err}");
}

fn refused(pem: &str) -> CsrError {
    check_csr(pem, &policy(), &identity(), CHALLENGE).unwrap_err()
}

#[test]
fn bad_csrs_are_refused_each_with_its_own_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = KeyPair::generate().unwrap();
    assert!(matches!(refused("hello"), CsrError::Malformed(_)));
    assert!(matches!(
        refused(&to_pem("CERTIFICATE REQUEST", b"\x30\x03\x02\x01\x00")),
        CsrError::Malformed(_)
    ));
    let good = rcgen_csr(&key, Some(CHALLENGE), |_| {});
    let der = rustls::pki_types::pem::PemObject::from_pem_slice(good.as_bytes())
        .map(|d: rustls::pki_types::CertificateSigningRequestDer<'_>| d.as_ref().to_vec())
        .unwrap();
    let mut broken = der.clone();
    *broken.last_mut().unwrap() ^= 0x01;
    assert_eq!(
        refused(&to_pem("CERTIFICATE REQUEST", &broken)),
        CsrError::BadSignature
    );
    let mut trailing = der.clone();
    trailing.push(0);
    assert!(matches!(
        refused(&to_pem("CERTIFICATE REQUEST", &trailing)),
        CsrError::Malformed(_)
    ));

    let weak = refused(&openssl_csr(
        d,
        &["-newkey", "rsa:1024"],
        Some(CHALLENGE),
        &[],
    ));
    assert_eq!(weak, CsrError::KeyNotAllowed("RSA 1024 bits".into()));
    assert!(weak.to_string().contains("RSA 1024 bits"), "{weak}");
    let ca_true = openssl_csr(
        d,
        P256,
        Some(CHALLENGE),
        &["basicConstraints=critical,CA:TRUE"],
    );
    assert_eq!(refused(&ca_true), CsrError::RequestsCa);
    let rcgen_ca = rcgen_csr(&key, Some(CHALLENGE), |p| {
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained)
    });
    assert_eq!(refused(&rcgen_ca), CsrError::RequestsCa);
    let any = rcgen_csr(&key, Some(CHALLENGE), |p| {
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::Any]
    });
    assert_eq!(refused(&any), CsrError::RequestsAnyEku);
    let foreign = openssl_csr(
        d,
        P256,
        Some(CHALLENGE),
        &["subjectAltName=DNS:cam-0042.local,DNS:evil.example"],
    );
    assert!(matches!(refused(&foreign), CsrError::ForeignSan(s) if s.contains("evil.example")));
    let foreign_ip = rcgen_csr(&key, Some(CHALLENGE), |p| {
        p.subject_alt_names = vec![SanType::IpAddress("10.0.0.9".parse().unwrap())]
    });
    assert_eq!(
        refused(&foreign_ip),
        CsrError::ForeignSan("IP 10.0.0.9".into())
    );
    let other_cn = rcgen_csr(&key, Some(CHALLENGE), |p| {
        p.distinguished_name
            .push(DnType::CommonName, "bank.example")
    });
    assert!(matches!(
        refused(&other_cn),
        CsrError::ForeignSubject { .. }
    ));

    let missing = openssl_csr(d, P256, None, &[]);
    assert!(
        matches!(refused(&missing), CsrError::MissingChallenge(p) if p.contains("challengePassword"))
    );
    let replayed = openssl_csr(d, P256, Some("an-older-challenge"), &[]);
    assert!(matches!(refused(&replayed), CsrError::ChallengeMismatch(_)));
    assert_eq!(
        check_csr(&good, &policy(), &identity(), "").unwrap_err(),
        CsrError::EmptyChallenge
    );

    let long = format!("{good}{}", "A".repeat(17 * 1024));
    let err = refused(&long);
    assert!(
        matches!(err, CsrError::TooLarge { max: 16384, .. }),
        "{err}"
    );
    let only_p256 = CertPolicy {
        allowed_keys: vec![temper_core::pki::AllowedKey::EcdsaP256],
        ..policy()
    };
    let ed = rcgen_csr(
        &KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap(),
        Some(CHALLENGE),
        |_| {},
    );
    assert!(matches!(
        check_csr(&ed, &only_p256, &identity(), CHALLENGE),
        Err(CsrError::KeyNotAllowed(_))
    ));

    // The station told the device which key type to make: an allowed key of another type is refused.
    let asked_p384 = policy()
        .with_key(temper_core::pki::AllowedKey::EcdsaP384)
        .expect("allowed");
    let err = check_csr(&ed, &asked_p384, &identity(), CHALLENGE).unwrap_err();
    assert_eq!(
        err,
        CsrError::KeyNotAsked {
            found: "Ed25519".into(),
            asked: "ecdsa-p384".into()
        }
    );
    assert!(err.to_string().contains("ignored the key type"), "{err}");
    let asked_ed = policy()
        .with_key(temper_core::pki::AllowedKey::Ed25519)
        .expect("allowed");
    assert!(check_csr(&ed, &asked_ed, &identity(), CHALLENGE).is_ok());
    assert!(only_p256
        .with_key(temper_core::pki::AllowedKey::Ed25519)
        .is_err());
}

#[test]
fn signed_cert_carries_only_policy_fields_whatever_the_csr_asks() {
    let key = KeyPair::generate().unwrap();
    let pem = rcgen_csr(&key, Some(CHALLENGE), |p| {
        p.distinguished_name
            .push(DnType::OrganizationName, "Requested Org");
        p.subject_alt_names = vec![SanType::DnsName("cam-0042.local".try_into().unwrap())];
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        p.is_ca = IsCa::ExplicitNoCa;
    });
    let csr = checked(&pem);
    let station = ca(CaKeyKind::EcdsaP256);
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let cert = station.sign(&csr, &policy(), &identity(), now).unwrap();
    assert_eq!(cert.not_before, now - Duration::from_secs(300));
    assert_eq!(cert.not_after, now + 365 * DAY);
    let (_, x) = x509_parser::parse_x509_certificate(&cert.der).unwrap();
    assert_eq!(x.subject().to_string(), "CN=ipcam-SV2100-0042");
    assert_eq!(x.public_key().raw, csr.spki_der());
    assert_eq!(x.validity().not_before.timestamp(), 1_800_000_000 - 300);
    let mut seen = Vec::new();
    for ext in x.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::BasicConstraints(bc) => assert!(!bc.ca),
            ParsedExtension::KeyUsage(ku) => {
                assert!(ku.digital_signature() && !ku.key_cert_sign() && !ku.crl_sign());
            }
            ParsedExtension::ExtendedKeyUsage(eku) => {
                assert!(eku.server_auth && !eku.code_signing && !eku.client_auth && !eku.any);
                assert!(eku.other.is_empty());
            }
            ParsedExtension::SubjectAlternativeName(san) => {
                let ip: IpAddr = "127.0.0.42".parse().unwrap();
                let octets = match ip {
                    IpAddr::V4(v4) => v4.octets(),
                    IpAddr::V6(_) => unreachable!(),
                };
                assert_eq!(
                    san.general_names,
                    vec![
                        GeneralName::DNSName("cam-0042.local"),
                        GeneralName::IPAddress(&octets)
                    ]
                );
            }
            ParsedExtension::AuthorityKeyIdentifier(_)
            | ParsedExtension::SubjectKeyIdentifier(_) => {}
            other => panic!("unexpected extension {other:?}"),
        }
        seen.push(ext.oid.to_id_string());
    }
    for oid in ["2.5.29.19", "2.5.29.15", "2.5.29.37", "2.5.29.17"] {
        assert!(seen.iter().any(|s| s == oid), "missing {oid} in {seen:?}");
    }
    let other = DeviceIdentity {
        serial: "SV2100-0099".into(),
        ..identity()
    };
    assert!(matches!(
        station.sign(&csr, &policy(), &other, now),
        Err(CaError::IdentityMismatch { .. })
    ));
}

#[test]
fn verify_served_chain_refuses_wrong_ca_name_time_key_and_long_chains() {
    let station = ca(CaKeyKind::EcdsaP256);
    let csr = checked(&rcgen_csr(
        &KeyPair::generate().unwrap(),
        Some(CHALLENGE),
        |_| {},
    ));
    let now = SystemTime::now();
    let cert = station.sign(&csr, &policy(), &identity(), now).unwrap();
    let chain = vec![cert.der.clone()];
    let dns = ServerName::try_from("cam-0042.local").unwrap();
    let ip = ServerName::from("127.0.0.42".parse::<IpAddr>().unwrap());
    let verify = |ca_pem: &str, name: &ServerName<'_>, spki: &[u8], at: SystemTime| {
        verify_served_chain(&chain, ca_pem, name, spki, at)
    };
    let ok = verify(station.cert_pem(), &dns, csr.spki_der(), now).unwrap();
    assert_eq!(ok.not_after, cert.not_after);
    assert!(verify(station.cert_pem(), &ip, csr.spki_der(), now).is_ok());
    // Another CA under the same name: webpki finds the issuer by name, then the signature fails.
    let same_name = ca(CaKeyKind::EcdsaP256);
    let err = verify(same_name.cert_pem(), &dns, csr.spki_der(), now).unwrap_err();
    assert_eq!(err, VerifyError::BadSignature);
    let another = StationCa::generate(CaKeyKind::EcdsaP256, "Another CA", now).unwrap();
    let err = verify(another.cert_pem(), &dns, csr.spki_der(), now).unwrap_err();
    assert_eq!(err, VerifyError::UnknownIssuer);
    assert!(
        err.to_string().contains("not issued by the expected CA"),
        "{err}"
    );
    let wrong = ServerName::try_from("cam-0043.local").unwrap();
    assert_eq!(
        verify(station.cert_pem(), &wrong, csr.spki_der(), now),
        Err(VerifyError::NameMismatch("cam-0043.local".into()))
    );
    assert_eq!(
        verify(station.cert_pem(), &dns, csr.spki_der(), now + 400 * DAY),
        Err(VerifyError::Expired)
    );
    assert_eq!(
        verify(
            station.cert_pem(),
            &dns,
            csr.spki_der(),
            now - Duration::from_secs(3600)
        ),
        Err(VerifyError::NotYetValid)
    );
    let other_key = checked(&rcgen_csr(
        &KeyPair::generate().unwrap(),
        Some(CHALLENGE),
        |_| {},
    ));
    let err = verify(station.cert_pem(), &dns, other_key.spki_der(), now).unwrap_err();
    assert_eq!(err, VerifyError::KeyMismatch);
    assert!(err
        .to_string()
        .contains("not the key from the device's CSR"));
    let fifty = vec![cert.der.clone(); 50];
    let err =
        verify_served_chain(&fifty, station.cert_pem(), &dns, csr.spki_der(), now).unwrap_err();
    assert_eq!(err, VerifyError::ChainTooLong { len: 50, max: 8 });
    assert!(err.to_string().contains("50 certificates"), "{err}");
    assert_eq!(
        verify_served_chain(&[], station.cert_pem(), &dns, csr.spki_der(), now),
        Err(VerifyError::EmptyChain)
    );
}

#[test]
fn openssl_crl_check_rejects_a_revoked_certificate_and_keeps_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let station = ca(CaKeyKind::EcdsaP256);
    let now = SystemTime::now();
    let csr = checked(&rcgen_csr(
        &KeyPair::generate().unwrap(),
        Some(CHALLENGE),
        |_| {},
    ));
    let revoked = station.sign(&csr, &policy(), &identity(), now).unwrap();
    let kept = station.sign(&csr, &policy(), &identity(), now).unwrap();
    let crl = station
        .crl(
            &[Revoked {
                serial: revoked.serial.clone(),
                revoked_at: now,
            }],
            now,
            now + 7 * DAY,
        )
        .unwrap();
    std::fs::write(d.join("ca.pem"), station.cert_pem()).unwrap();
    std::fs::write(d.join("crl.pem"), crl).unwrap();
    std::fs::write(d.join("revoked.pem"), &revoked.pem).unwrap();
    std::fs::write(d.join("kept.pem"), &kept.pem).unwrap();
    let args = [
        "verify",
        "-crl_check",
        "-CRLfile",
        "crl.pem",
        "-CAfile",
        "ca.pem",
    ];
    let (ok, text) = openssl(d, &[&args[..], &["revoked.pem"]].concat());
    assert!(!ok && text.contains("certificate revoked"), "{text}");
    let (ok, text) = openssl(d, &[&args[..], &["kept.pem"]].concat());
    assert!(ok && text.contains("kept.pem: OK"), "{text}");
}

#[test]
fn the_ca_round_trips_through_pem_and_keeps_its_key_secret() {
    let station = ca(CaKeyKind::EcdsaP384);
    let key = station.key_pem();
    assert!(key.expose().contains("PRIVATE KEY"));
    assert!(!format!("{key:?} {station:?}").contains("PRIVATE"));
    let again = StationCa::from_pem(station.cert_pem(), &key).unwrap();
    assert_eq!(again.cert_der(), station.cert_der());
    let csr = checked(&rcgen_csr(
        &KeyPair::generate().unwrap(),
        Some(CHALLENGE),
        |_| {},
    ));
    let now = SystemTime::now();
    let cert = again.sign(&csr, &policy(), &identity(), now).unwrap();
    let dns = ServerName::try_from("cam-0042.local").unwrap();
    assert!(verify_served_chain(
        std::slice::from_ref(&cert.der),
        station.cert_pem(),
        &dns,
        csr.spki_der(),
        now
    )
    .is_ok());
    let other_key = ca(CaKeyKind::EcdsaP384).key_pem();
    assert!(matches!(
        StationCa::from_pem(station.cert_pem(), &other_key),
        Err(CaError::KeyMismatch)
    ));
    assert!(matches!(
        StationCa::from_pem(&cert.pem, &key),
        Err(CaError::NotACa)
    ));
    assert!(matches!(
        StationCa::generate(CaKeyKind::Rsa3072, "x", now),
        Err(CaError::KeyGenerationUnavailable(CaKeyKind::Rsa3072))
    ));
}
