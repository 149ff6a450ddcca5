//! The OS keyring key source: against a real Secret Service under `scripts/with-secret-service.sh`, and always
//! against an unreachable one.

use temper_core::inventory::keys::{
    self, delete_keyring_key, KeyBundle, KeyError, KeyHeader, KeySource, RecoveryKey, SlotKind,
};

use super::same_bundle;

const NO_KEYRING_HELP: &str =
    "start a Secret Service (gnome-keyring) or use --passphrase-file FILE or --key-file FILE";

/// Runs against a real Secret Service under `scripts/with-secret-service.sh`; always checks that an unreachable
/// keyring fails with the how-to message, so this test never passes without asserting something.
#[test]
fn keyring_source() {
    if std::env::var("TEMPER_TEST_SECRET_SERVICE").as_deref() == Ok("1") {
        keyring_against_real_secret_service();
    }
    unreachable_keyring_says_how_to_provide_a_key();
}

fn keyring_against_real_secret_service() {
    let service = format!("temper-test-{}", hex::encode(rand::random::<[u8; 6]>()));
    let source = KeySource::Keyring {
        service: service.clone(),
        account: String::new(),
    };
    let bundle = KeyBundle::generate();
    let recovery = RecoveryKey::generate();
    let header = KeyHeader::create(&bundle, &source, &recovery).unwrap();
    assert_eq!(
        header.slot_kinds(),
        vec![SlotKind::Keyring, SlotKind::Recovery]
    );
    assert_eq!(
        header.keyring_entries(),
        vec![(service.clone(), header.inventory_id().to_string())]
    );
    assert!(same_bundle(&header.unlock(&source).unwrap(), &bundle));

    // From inside a tokio runtime too (the keyring backend must not deadlock there).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let unlocked = runtime.block_on(async { header.unlock(&source) }).unwrap();
    assert!(same_bundle(&unlocked, &bundle));

    // Rekey to a new keyring entry; the old header keeps working until its entry is deleted.
    let new_recovery = RecoveryKey::generate();
    let rekeyed = header.rewrapped(&bundle, &source, &new_recovery).unwrap();
    let (_, new_account) = rekeyed.keyring_entries().remove(0);
    assert_ne!(new_account, header.inventory_id());
    assert!(new_account.starts_with(header.inventory_id()));
    assert!(same_bundle(&header.unlock(&source).unwrap(), &bundle));
    assert!(same_bundle(&rekeyed.unlock(&source).unwrap(), &bundle));

    delete_keyring_key(&service, header.inventory_id()).unwrap();
    let err = header.unlock(&source).unwrap_err();
    assert!(
        matches!(err, KeyError::KeyringEntryMissing { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("the keyring has no key for this inventory"),
        "{message}"
    );
    assert!(message.contains("--recovery-key"), "{message}");
    let typed = KeySource::Recovery(recovery.to_display_string());
    assert!(same_bundle(&header.unlock(&typed).unwrap(), &bundle));
    assert!(same_bundle(&rekeyed.unlock(&source).unwrap(), &bundle));

    delete_keyring_key(&service, &new_account).unwrap();
    let err = delete_keyring_key(&service, &new_account).unwrap_err();
    assert!(
        matches!(err, KeyError::KeyringEntryMissing { .. }),
        "{err:?}"
    );
}

fn unreachable_keyring_says_how_to_provide_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let saved = std::env::var_os("DBUS_SESSION_BUS_ADDRESS");
    let bogus = format!("unix:path={}", dir.path().join("no-such-bus").display());
    // Only this test touches the keyring or this variable, and it does so sequentially.
    std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &bogus);
    let created = KeyHeader::create(
        &KeyBundle::generate(),
        &KeySource::os_keyring(),
        &RecoveryKey::generate(),
    );
    let loaded = keys::load_keyring_key(keys::KEYRING_SERVICE, "0123456789abcdef0123456789abcdef");
    match saved {
        Some(value) => std::env::set_var("DBUS_SESSION_BUS_ADDRESS", value),
        None => std::env::remove_var("DBUS_SESSION_BUS_ADDRESS"),
    }
    for err in [created.unwrap_err(), loaded.unwrap_err()] {
        assert!(matches!(err, KeyError::NoKeyring { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.starts_with("no OS keyring is available"),
            "{message}"
        );
        assert!(message.contains(NO_KEYRING_HELP), "{message}");
    }
}
