//! The two certificate slots of the SV-IPC3100 (`ipcam-pro`), for make-before-break renewal: a new
//! key and certificate go into the idle slot while httpsd keeps serving the active one, then
//! `certtool use` switches over at once.
//!
//! - `certtool genkey --slot N [--type ec-p256|ec-p384|ed25519]`: a new key for slot N (1 or 2); the
//!   slot's installed chain is cleared. `OK key generated`.
//! - `certtool csr --slot N --cn CN --challenge TEXT [--san-ip IP]... [--san-dns NAME]...`: a CSR signed
//!   by slot N's key (`ERR no key in slot N: run certtool genkey --slot N` without one).
//! - `certtool install --slot N`, PEM lines, `EOF`: `OK installed <fp>` once the leaf carries slot N's
//!   key (`ERR certificate does not match the key in slot N` otherwise).
//! - `certtool use --slot N`: httpsd serves slot N's chain to every new connection at once (no restart,
//!   open connections are kept); persisted. `OK serving slot N <fp>`, `ERR slot N is empty`.
//! - `certtool delete --slot N`: forgets slot N's key and chain. `OK slot N cleared`.
//! - `certtool show`: `serving <fp|none>`, `active slot <N|none>`, `slot 1 <fp|none>`,
//!   `slot 2 <fp|none>`, `key 1 <kind|none>`, `key 2 <kind|none>`.
//!
//! `genkey`, `install` and `delete` on the active slot are refused with `ERR slot N is in use`. Without
//! `--slot`, `genkey`, `csr`, `use` and `delete` answer [`NEED_SLOT`] at once; `certtool install` reads
//! the PEM lines first and answers it after `EOF` (like every other install refusal, so that the chain
//! is never typed into the shell). From the factory no slot has a key or chain, no slot is active and
//! httpsd serves the shared factory certificate.
//!
//! Events: `key-generated`, `csr-issued`, `cert-installed`, `cert-refused` as on the one-slot model,
//! each with `slot`; `slot-switched` {slot, fingerprint} and `slot-deleted` {slot}.
//!
//! The helpers taking `slot: Option<u8>` also serve the one-slot model (`None`), where they keep its
//! behaviour and messages exactly.

use std::sync::Arc;

use serde_json::{json, Value};

use super::certfmt::Refusal;
use super::certtool::{self, CSR_USAGE, NO_KEY, USAGE};
use super::console::Session;
use super::{tls, Device, Service};
use crate::state::{CertSlot, DeviceKey, InstalledChain, TlsState};

/// The answer to a slot command without `--slot`.
pub const NEED_SLOT: &str = "ERR this model has two slots: give --slot 1 or --slot 2";
/// Slot numbers.
pub const SLOTS: [u8; 2] = [1, 2];

const SLOT_USAGE: &str = "usage: certtool genkey --slot N [--type ec-p256|ec-p384|ed25519] | certtool csr --slot N --cn NAME --challenge TEXT [--san-ip IP] [--san-dns NAME] | certtool install --slot N | certtool use --slot N | certtool delete --slot N | certtool show";
const SLOT_CSR_USAGE: &str =
    "ERR usage: certtool csr --slot N --cn NAME --challenge TEXT [--san-ip IP] [--san-dns NAME]";

/// `certtool ARGS` on a two-slot model (the caller checked for root).
pub async fn command(s: &mut Session, user: &str, args: &[&str]) -> Vec<String> {
    let Some((&sub, rest)) = args.split_first() else {
        return vec![SLOT_USAGE.into()];
    };
    let (slot, rest) = match take_slot(rest) {
        Ok(v) => v,
        Err(line) => return vec![line],
    };
    match (sub, slot, rest.as_slice()) {
        ("show", None, []) => show(s),
        ("install", slot, []) => certtool::begin_install(s, user, slot),
        ("genkey", Some(n), rest) => certtool::genkey(s, rest, Some(n)).await,
        ("csr", Some(n), rest) => certtool::csr(s, rest, Some(n)).await,
        ("use", Some(n), []) => use_slot(s, n).await,
        ("delete", Some(n), []) => delete(s, n),
        ("genkey" | "csr" | "use" | "delete", None, _) => vec![NEED_SLOT.into()],
        _ => vec![SLOT_USAGE.into()],
    }
}

/// Split `--slot N` off flag/value pairs; the other words keep their order.
fn take_slot<'a>(args: &[&'a str]) -> Result<(Option<u8>, Vec<&'a str>), String> {
    let mut slot = None;
    let mut rest = Vec::new();
    for pair in args.chunks(2) {
        match pair {
            ["--slot", v] if slot.is_none() => match v.parse::<u8>() {
                Ok(n) if SLOTS.contains(&n) => slot = Some(n),
                _ => return Err(format!("ERR invalid slot {v}: give --slot 1 or --slot 2")),
            },
            _ => rest.extend_from_slice(pair),
        }
    }
    Ok((slot, rest))
}

pub fn in_use(n: u8) -> String {
    format!("ERR slot {n} is in use")
}

pub(super) fn is_active(dev: &Device, n: u8) -> bool {
    dev.with_state(|st| st.tls.active_slot == Some(n))
}

pub(super) fn usage(slot: Option<u8>) -> &'static str {
    slot.map_or(USAGE, |_| SLOT_USAGE)
}

pub(super) fn csr_usage(slot: Option<u8>) -> &'static str {
    slot.map_or(CSR_USAGE, |_| SLOT_CSR_USAGE)
}

pub(super) fn no_key(slot: Option<u8>) -> String {
    match slot {
        None => NO_KEY.into(),
        Some(n) => format!("ERR no key in slot {n}: run certtool genkey --slot {n}"),
    }
}

pub(super) fn mismatch(slot: Option<u8>) -> String {
    match slot {
        None => "ERR certificate does not match the device key".into(),
        Some(n) => format!("ERR certificate does not match the key in slot {n}"),
    }
}

/// Event fields with `"slot": N` added (unchanged for the one-slot model).
pub(super) fn tag(mut fields: Value, slot: Option<u8>) -> Value {
    if let (Some(n), Value::Object(map)) = (slot, &mut fields) {
        map.insert("slot".into(), Value::from(n));
    }
    fields
}

/// The key `csr` and `install` work with.
pub(super) fn key(tls: &TlsState, slot: Option<u8>) -> Option<DeviceKey> {
    match slot {
        None => tls.key.clone(),
        Some(n) => tls.slots.get(&n).and_then(|c| c.key.clone()),
    }
}

/// Store a new key (a slot's chain goes with its old key). Checked again here, inside the state
/// update, so that a `use` from another session in the meantime cannot be undercut.
pub(super) fn set_key(tls: &mut TlsState, slot: Option<u8>, key: DeviceKey) -> Result<(), String> {
    match slot {
        None => tls.key = Some(key),
        Some(n) if tls.active_slot == Some(n) => return Err(in_use(n)),
        Some(n) => {
            let fresh = CertSlot {
                key: Some(key),
                installed: None,
            };
            tls.slots.insert(n, fresh);
        }
    }
    Ok(())
}

/// Before anything else in `install`: a two-slot model needs an idle slot.
pub(super) fn check_install(dev: &Device, slot: Option<u8>) -> Result<(), Refusal> {
    if !dev.variant().has_slots() {
        return Ok(());
    }
    match slot {
        None => Err(("no-slot", NEED_SLOT.into())),
        Some(n) if is_active(dev, n) => Err(("slot-in-use", in_use(n))),
        Some(_) => Ok(()),
    }
}

/// Store an installed chain, re-checking the slot inside the state update.
pub(super) fn set_installed(
    tls: &mut TlsState,
    slot: Option<u8>,
    inst: InstalledChain,
) -> Result<(), Refusal> {
    let Some(n) = slot else {
        tls.installed = Some(inst);
        return Ok(());
    };
    if tls.active_slot == Some(n) {
        return Err(("slot-in-use", in_use(n)));
    }
    match tls.slots.get_mut(&n) {
        Some(c) if c.key.as_ref() == Some(&inst.key) => {
            c.installed = Some(inst);
            Ok(())
        }
        _ => Err(("key-mismatch", mismatch(slot))),
    }
}

fn or_none<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "none".into(), |v| v.to_string())
}

fn show(s: &Session) -> Vec<String> {
    let serving = s.dev.serving_fingerprint();
    s.dev.with_state(|st| {
        let slot = |n: u8| st.tls.slots.get(&n).cloned().unwrap_or_default();
        let mut out = vec![
            format!("serving {}", or_none(serving)),
            format!("active slot {}", or_none(st.tls.active_slot)),
        ];
        for n in SLOTS {
            let fp = slot(n).installed.map(|i| i.fingerprint);
            out.push(format!("slot {n} {}", or_none(fp)));
        }
        for n in SLOTS {
            out.push(format!("key {n} {}", or_none(slot(n).key.map(|k| k.kind))));
        }
        out
    })
}

async fn use_slot(s: &mut Session, n: u8) -> Vec<String> {
    let dev = s.dev.clone();
    let (mut fp, mut before) = (None, None);
    let res = dev.update_state(|st| {
        before = st.tls.active_slot;
        let chain = st.tls.slots.get(&n).and_then(|c| c.installed.as_ref());
        fp = chain.map(|i| i.fingerprint.clone());
        if fp.is_some() {
            st.tls.active_slot = Some(n);
        }
    });
    if let Err(e) = res {
        tracing::error!("{e}");
        return vec!["ERR write failed".into()];
    }
    let Some(fp) = fp else {
        return vec![format!("ERR slot {n} is empty")];
    };
    if let Err(e) = dev.reload_tls().await {
        // Keep serving what was served (not reachable with a chain that passed `install`).
        tracing::error!("httpsd cannot load slot {n}: {e}");
        let _ = dev.update_state(|st| st.tls.active_slot = before);
        let _ = dev.reload_tls().await;
        return vec![format!("ERR cannot load slot {n}")];
    }
    dev.events
        .log("slot-switched", json!({"slot": n, "fingerprint": fp}));
    vec![format!("OK serving slot {n} {fp}")]
}

fn delete(s: &mut Session, n: u8) -> Vec<String> {
    let mut refused = false;
    let res = s.dev.update_state(|st| {
        if st.tls.active_slot == Some(n) {
            refused = true;
        } else {
            st.tls.slots.remove(&n);
        }
    });
    if let Err(e) = res {
        tracing::error!("{e}");
        return vec!["ERR write failed".into()];
    }
    if refused {
        return vec![in_use(n)];
    }
    s.dev.events.log("slot-deleted", json!({ "slot": n }));
    vec![format!("OK slot {n} cleared")]
}

impl Device {
    /// Make a running httpsd serve what the state says now, without closing its socket or its open
    /// connections: new handshakes get the new chain. Returns the fingerprint it serves, `None` when
    /// httpsd is not running (it loads the state when it starts).
    pub(crate) async fn reload_tls(self: &Arc<Self>) -> Result<Option<String>, String> {
        // Held so that httpsd cannot start or stop meanwhile.
        let services = self.services.lock().await;
        let running = services
            .get(&Service::Https)
            .is_some_and(|h| !h.is_finished());
        if !running {
            return Ok(None);
        }
        let (config, fp) = tls::server_config(self)?;
        self.set_serving(Some((fp.clone(), config)));
        Ok(Some(fp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_flag_is_taken_from_any_pair() {
        let (slot, rest) = take_slot(&["--type", "ed25519", "--slot", "2"]).unwrap();
        assert_eq!((slot, rest), (Some(2), vec!["--type", "ed25519"]));
        let (slot, rest) = take_slot(&["--slot", "1", "--cn", "x", "--slot", "2"]).unwrap();
        assert_eq!((slot, rest), (Some(1), vec!["--cn", "x", "--slot", "2"]));
        // A value that looks like the flag stays a value.
        let (slot, rest) = take_slot(&["--challenge", "--slot", "--cn", "x"]).unwrap();
        assert_eq!(slot, None);
        assert_eq!(rest.len(), 4);
        for bad in ["0", "3", "x", "-1"] {
            let line = take_slot(&["--slot", bad]).unwrap_err();
            assert_eq!(
                line,
                format!("ERR invalid slot {bad}: give --slot 1 or --slot 2")
            );
        }
        assert_eq!(take_slot(&["--slot"]).unwrap(), (None, vec!["--slot"]));
    }

    #[test]
    fn one_slot_helpers_keep_the_old_messages() {
        assert_eq!(no_key(None), "ERR no key: run certtool genkey");
        assert_eq!(
            no_key(Some(2)),
            "ERR no key in slot 2: run certtool genkey --slot 2"
        );
        assert_eq!(
            mismatch(None),
            "ERR certificate does not match the device key"
        );
        assert_eq!(
            mismatch(Some(1)),
            "ERR certificate does not match the key in slot 1"
        );
        assert_eq!(tag(json!({"a": 1}), None), json!({"a": 1}));
        assert_eq!(tag(json!({"a": 1}), Some(2)), json!({"a": 1, "slot": 2}));
        assert_eq!(usage(None), USAGE);
        assert_eq!(csr_usage(None), CSR_USAGE);
    }

    #[test]
    fn slot_state_rules() {
        let k1 = tls::generate_key("ec-p256").unwrap();
        let k2 = tls::generate_key("ed25519").unwrap();
        let chain = |key: &DeviceKey, fp: &str| InstalledChain {
            chain_pem: vec![],
            key: key.clone(),
            fingerprint: fp.into(),
        };
        let mut t = TlsState::default();
        assert_eq!(
            set_installed(&mut t, Some(1), chain(&k1, "a"))
                .unwrap_err()
                .0,
            "key-mismatch"
        );
        set_key(&mut t, Some(1), k1.clone()).unwrap();
        set_key(&mut t, Some(2), k2.clone()).unwrap();
        assert_eq!(
            set_installed(&mut t, Some(2), chain(&k1, "a"))
                .unwrap_err()
                .0,
            "key-mismatch"
        );
        set_installed(&mut t, Some(1), chain(&k1, "a")).unwrap();
        assert_eq!(key(&t, Some(1)), Some(k1.clone()));
        assert_eq!(t.serving_chain(), None, "nothing active: factory");
        t.active_slot = Some(1);
        assert_eq!(t.serving_chain().unwrap().fingerprint, "a");
        assert_eq!(set_key(&mut t, Some(1), k2.clone()), Err(in_use(1)));
        assert_eq!(
            set_installed(&mut t, Some(1), chain(&k1, "b"))
                .unwrap_err()
                .0,
            "slot-in-use"
        );
        // A new key clears the slot's chain.
        set_installed(&mut t, Some(2), chain(&k2, "c")).unwrap();
        set_key(&mut t, Some(2), k1.clone()).unwrap();
        assert!(t.slots[&2].installed.is_none());
        // One-slot model: no slots, nothing written for them.
        let mut one = TlsState::default();
        set_key(&mut one, None, k1.clone()).unwrap();
        set_installed(&mut one, None, chain(&k1, "d")).unwrap();
        assert_eq!(one.serving_chain().unwrap().fingerprint, "d");
        let v = serde_json::to_value(&one).unwrap();
        assert_eq!(
            v.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["installed", "key"]
        );
    }
}
