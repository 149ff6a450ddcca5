//! Where the inventory passphrase comes from: a file, the environment, or a prompt on a terminal.

use std::io::IsTerminal;

use temper_core::Secret;

use crate::{exit, Failure, Globals};

/// The passphrase, from `--passphrase-file`, `$TEMPER_INVENTORY_PASSPHRASE`, or a prompt.
pub fn obtain(globals: &Globals, creating: bool) -> Result<Secret, Failure> {
    if let Some(path) = &globals.passphrase_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Failure::new(
                exit::USAGE,
                format!("cannot read the passphrase file {}: {e}", path.display()),
            )
        })?;
        return Ok(Secret::new(text.trim_end_matches(['\n', '\r'])));
    }
    if let Ok(value) = std::env::var("TEMPER_INVENTORY_PASSPHRASE") {
        return Ok(Secret::new(value));
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::new(
            exit::USAGE,
            "no inventory passphrase: set TEMPER_INVENTORY_PASSPHRASE or pass --passphrase-file FILE",
        ));
    }
    let prompt = if creating {
        "New inventory passphrase: "
    } else {
        "Inventory passphrase: "
    };
    let first = rpassword::prompt_password(prompt)
        .map_err(|e| Failure::new(exit::USAGE, format!("cannot read the passphrase: {e}")))?;
    if creating {
        let again =
            zeroize::Zeroizing::new(rpassword::prompt_password("Repeat it: ").map_err(|e| {
                Failure::new(exit::USAGE, format!("cannot read the passphrase: {e}"))
            })?);
        if *again != first {
            return Err(Failure::new(
                exit::USAGE,
                "the two passphrases differ; run again",
            ));
        }
    }
    Ok(Secret::new(first))
}
