//! Which key unlocks the inventory: `--passphrase-file`, `--key-file`, `--keyring`, `--recovery-key`, the
//! environment, or a prompt on a terminal.

use std::io::IsTerminal;
use std::path::Path;

use temper_core::inventory::keys::{self, KeyHeader, KeySource, SlotKind};
use temper_core::Secret;

use crate::{exit, Failure, Globals};

/// How to provide a key, for error messages.
pub const HOW_TO: &str =
    "provide a key with --keyring (a running Secret Service such as gnome-keyring), \
     --passphrase-file FILE, --key-file FILE, or TEMPER_INVENTORY_PASSPHRASE";

/// The key source the user chose explicitly, if any.
fn explicit(globals: &Globals) -> Result<Option<KeySource>, Failure> {
    if let Some(path) = &globals.passphrase_file {
        return Ok(Some(KeySource::Passphrase(read_secret_file(
            path,
            "passphrase",
        )?)));
    }
    if let Some(path) = &globals.key_file {
        return Ok(Some(KeySource::KeyFile(path.clone())));
    }
    if globals.keyring {
        return Ok(Some(KeySource::os_keyring()));
    }
    if globals.recovery_key {
        return Ok(Some(KeySource::Recovery(recovery_key()?)));
    }
    if let Ok(value) = std::env::var("TEMPER_INVENTORY_PASSPHRASE") {
        return Ok(Some(KeySource::Passphrase(Secret::new(value))));
    }
    Ok(None)
}

/// The key to open an existing inventory with: explicit, else the keyring if the header has a keyring slot,
/// else a passphrase prompt on a terminal.
pub fn for_open(globals: &Globals, db: &Path) -> Result<KeySource, Failure> {
    if let Some(source) = explicit(globals)? {
        return Ok(source);
    }
    if let Ok(header) = KeyHeader::read(&keys::header_path(db)) {
        if header.slot_kinds().contains(&SlotKind::Keyring) {
            return Ok(KeySource::os_keyring());
        }
    }
    prompt(false).map(KeySource::Passphrase)
}

/// The key for a new inventory (or the new key of a rekey): explicit, else the OS keyring (the desktop default).
pub fn for_create(globals: &Globals) -> Result<KeySource, Failure> {
    if let Some(path) = &globals.key_file {
        if !path.exists() {
            keys::create_key_file(path).map_err(|e| Failure::new(exit::USAGE, e))?;
            eprintln!(
                "Created the key file {} (mode 0600): keep it readable only by this user.",
                path.display()
            );
        }
    }
    Ok(explicit(globals)?.unwrap_or_else(KeySource::os_keyring))
}

fn read_secret_file(path: &Path, what: &str) -> Result<Secret, Failure> {
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
        Failure::new(
            exit::USAGE,
            format!("cannot read the {what} file {}: {e}", path.display()),
        )
    })?);
    Ok(Secret::new(text.trim_end_matches(['\n', '\r'])))
}

fn recovery_key() -> Result<Secret, Failure> {
    if let Ok(value) = std::env::var("TEMPER_RECOVERY_KEY") {
        return Ok(Secret::new(value));
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::new(
            exit::USAGE,
            "--recovery-key: set TEMPER_RECOVERY_KEY or run on a terminal",
        ));
    }
    rpassword::prompt_password("Recovery key: ")
        .map(Secret::new)
        .map_err(|e| Failure::new(exit::USAGE, format!("cannot read the recovery key: {e}")))
}

fn prompt(creating: bool) -> Result<Secret, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::new(
            exit::USAGE,
            format!("no inventory key: {HOW_TO}"),
        ));
    }
    let label = if creating {
        "New inventory passphrase: "
    } else {
        "Inventory passphrase: "
    };
    let first = rpassword::prompt_password(label)
        .map_err(|e| Failure::new(exit::USAGE, format!("cannot read the passphrase: {e}")))?;
    Ok(Secret::new(first))
}
