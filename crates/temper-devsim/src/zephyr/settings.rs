//! Settings of the sensor and the settings management group (3), as Zephyr's `settings_mgmt` answers it.
//!
//! The names the variant has, each with a factory value ([`Variant::factory`]: the sensor's four are
//! [`FACTORY`]). Values are bytes on the wire; this device's are UTF-8 text. A write or delete is persisted at once (`settings.json` in the state directory holds the values
//! written since the factory, by atomic replace), and the running services take the values at the next
//! commit (3/2) or boot ([`super::net`]); `mqtt connect` reads `mqtt/broker` as it is.
//!
//! Commands: read (3/0 read `{"name", "max_size"?}` → `{"val": bstr}`, plus `"max_size"` when the asked size
//! was cut to [`VALUE_LEN`]), write (3/0 write `{"name", "val": bstr}` → `{}`), delete (3/1 → `{}`: the name
//! goes back to its factory value), commit (3/2 → `{}`), load (3/3 read → `{}`: re-reads the file) and save
//! (3/3 write → `{}`: writes it). Errors, as a v2 `{"err": {"group": 3, "rc"}}` or the v1 `{"rc"}` Zephyr maps
//! it to: a name of [`NAME_LEN`] bytes or more → KEY_TOO_LONG (2, v1 3); an unknown name → KEY_NOT_FOUND (3,
//! v1 5); a read of the write-only `app/admin_pw` → READ_NOT_SUPPORTED (4, v1 5), its value never sent nor
//! logged; a value the device refuses → ROOT_KEY_NOT_FOUND (5, v1 1: how `settings_mgmt` maps a handler's
//! `-EINVAL`); the file not written → UNKNOWN (1, v1 1). A request map without a non-empty `name` (or with
//! keys of the wrong type) → `{"rc": 3}`.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use ciborium::Value;
use serde::{Deserialize, Serialize};
use serde_json::json;
use temper_core::proto::smp::header::{Header, Op};

use super::cbor::{encode, Map};
use super::smp::{group_err, rc_body, Server, RC_EINVAL};
use super::variant::Variant;
use crate::state::save_named_json_atomically;
use crate::SimError;

/// The settings management group.
pub const GROUP_SETTINGS: u16 = 3;
/// Where the written values live in the state directory.
pub const SETTINGS_FILE: &str = "settings.json";
/// The HTTP admin password (user `admin`): write-only.
pub const ADMIN_PW: &str = "app/admin_pw";
/// Telnet shell on tcp/23: "1" on, "0" off.
pub const NET_TELNET: &str = "net/telnet";
/// SMP over UDP on udp/1337: "1" on, "0" off.
pub const MCUMGR_UDP: &str = "mcumgr/udp";
/// Where `mqtt connect` goes: "host:port".
pub const MQTT_BROKER: &str = "mqtt/broker";
/// UPnP (SSDP on udp/1900, the description on tcp/49152) of the ble-plug: "1" on, "0" off.
pub const NET_UPNP: &str = "net/upnp";
/// Every name of the zephyr-sensor and its factory value.
pub const FACTORY: &[(&str, &str)] = super::variant::SENSOR_FACTORY;
/// CONFIG_MCUMGR_GRP_SETTINGS_NAME_LEN: names must be shorter.
pub const NAME_LEN: usize = 64;
/// CONFIG_MCUMGR_GRP_SETTINGS_VALUE_LEN: the most bytes a read returns.
pub const VALUE_LEN: u32 = 128;

/// SETTINGS_MGMT_ERR_* (Zephyr `settings_mgmt.h`).
pub const ERR_UNKNOWN: u64 = 1;
pub const ERR_KEY_TOO_LONG: u64 = 2;
pub const ERR_KEY_NOT_FOUND: u64 = 3;
pub const ERR_READ_NOT_SUPPORTED: u64 = 4;
pub const ERR_ROOT_KEY_NOT_FOUND: u64 = 5;

/// The MGMT_ERR a v1 request gets for a settings group error (Zephyr's translator).
fn v1_rc(rc: u64) -> u64 {
    match rc {
        ERR_KEY_TOO_LONG => RC_EINVAL,
        ERR_KEY_NOT_FOUND | ERR_READ_NOT_SUPPORTED => 5,
        _ => 1,
    }
}

/// The settings: the values written since the factory (persisted), over the factory values of the variant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    written: BTreeMap<String, String>,
    /// Whose factory values and names (not persisted: the firmware knows what it is).
    #[serde(skip)]
    variant: Variant,
}

impl Settings {
    /// The factory settings of `variant`.
    pub fn factory(variant: Variant) -> Settings {
        Settings {
            written: BTreeMap::new(),
            variant,
        }
    }

    /// Reads `DIR/settings.json`; factory values of `variant` when there is none.
    pub fn load(dir: &Path, variant: Variant) -> Result<Settings, SimError> {
        let path = dir.join(SETTINGS_FILE);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(|s: Settings| Settings { variant, ..s })
                .map_err(|source| SimError::CorruptState { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::factory(variant)),
            Err(e) => Err(SimError::io(path.display().to_string(), e)),
        }
    }

    /// Whether `name` still has its factory value.
    pub fn is_factory(&self, name: &str) -> bool {
        self.get(name) == self.variant.factory_value(name)
    }

    fn save(&self, dir: &Path) -> Result<(), SimError> {
        save_named_json_atomically(dir, SETTINGS_FILE, self)
    }

    /// The current value of `name`; `None` for a name the device does not have.
    pub fn get(&self, name: &str) -> Option<&str> {
        let factory = self.variant.factory_value(name)?;
        Some(self.written.get(name).map_or(factory, String::as_str))
    }

    /// Whether an on/off setting is "1".
    pub fn is_on(&self, name: &str) -> bool {
        self.get(name) == Some("1")
    }

    /// Sets `name` to `val` and persists it; a SETTINGS_MGMT_ERR when refused.
    pub fn write(&mut self, dir: &Path, name: &str, val: &[u8]) -> Result<(), u64> {
        if self.get(name).is_none() {
            return Err(ERR_KEY_NOT_FOUND);
        }
        let text = std::str::from_utf8(val).map_err(|_| ERR_ROOT_KEY_NOT_FOUND)?;
        if !value_ok(name, text) {
            return Err(ERR_ROOT_KEY_NOT_FOUND);
        }
        let before = self.written.insert(name.to_string(), text.to_string());
        self.save(dir).map_err(|e| {
            tracing::error!("settings not saved: {e}");
            match before {
                Some(v) => self.written.insert(name.to_string(), v),
                None => self.written.remove(name),
            };
            ERR_UNKNOWN
        })
    }

    /// Puts `name` back to its factory value and persists that.
    pub fn delete(&mut self, dir: &Path, name: &str) -> Result<(), u64> {
        if self.get(name).is_none() {
            return Err(ERR_KEY_NOT_FOUND);
        }
        if let Some(before) = self.written.remove(name) {
            self.save(dir).map_err(|e| {
                tracing::error!("settings not saved: {e}");
                self.written.insert(name.to_string(), before);
                ERR_UNKNOWN
            })?;
        }
        Ok(())
    }
}

/// What the device's settings handlers accept.
fn value_ok(name: &str, text: &str) -> bool {
    match name {
        ADMIN_PW => (1..=64).contains(&text.len()) && !text.chars().any(char::is_control),
        NET_TELNET | MCUMGR_UDP | NET_UPNP => matches!(text, "0" | "1"),
        MQTT_BROKER => text.len() <= 128 && broker_parts(text).is_some(),
        _ => false,
    }
}

/// `host:port` (an IPv6 literal in brackets) split; `None` when it is not of that form.
pub fn broker_parts(text: &str) -> Option<(&str, u16)> {
    let (host, port) = text.rsplit_once(':')?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    host_ok.then_some((host, port))
}

/// The reply body to a settings-group request, or `None` when the command is not supported.
pub(crate) fn handle(server: &mut Server, header: Header, payload: &[u8]) -> Option<Vec<u8>> {
    let dir = server.dir().to_path_buf();
    match (header.id, header.op) {
        (0, _) | (1, Op::Write) => Some(named(server, header, payload)),
        (2, Op::Write) => {
            log(server, header, json!({}));
            server.events.log("settings_commit", json!({}));
            server.app.commit_pending = true;
            Some(encode(vec![]))
        }
        (3, op) => {
            log(server, header, json!({}));
            let result = match op {
                Op::Read => {
                    Settings::load(&dir, server.app.variant).map(|s| server.app.settings = s)
                }
                _ => server.app.settings.save(&dir),
            };
            Some(match result {
                Ok(()) => encode(vec![]),
                Err(e) => {
                    tracing::error!("settings load/save: {e}");
                    group_error(header, ERR_UNKNOWN)
                }
            })
        }
        _ => None,
    }
}

/// `{"event":"smp",...}` of a settings request, with `extra` fields (never a value).
fn log(server: &Server, header: Header, extra: serde_json::Value) {
    let mut fields = json!({"version": super::os::version_number(header.version)});
    if let (Some(obj), serde_json::Value::Object(more)) = (fields.as_object_mut(), extra) {
        obj.extend(more);
    }
    server.log_request(header.group, header.id, header.seq, fields);
}

fn group_error(header: Header, rc: u64) -> Vec<u8> {
    group_err(header.version, GROUP_SETTINGS, rc, v1_rc(rc))
}

/// Read, write (3/0) or delete (3/1) of one name.
fn named(server: &mut Server, header: Header, payload: &[u8]) -> Vec<u8> {
    let map = Map::decode(payload).unwrap_or_default();
    let name = match map.text("name") {
        Ok(Some(n)) if !n.is_empty() => n.to_string(),
        _ => {
            log(server, header, json!({"rc": RC_EINVAL}));
            return rc_body(RC_EINVAL);
        }
    };
    if name.len() >= NAME_LEN {
        log(server, header, json!({"settings_rc": ERR_KEY_TOO_LONG}));
        return group_error(header, ERR_KEY_TOO_LONG);
    }
    let dir = server.dir().to_path_buf();
    let (event, result) = match (header.id, header.op) {
        (0, Op::Read) => return read(server, header, &map, &name),
        (0, _) => match map.bytes("val") {
            Ok(Some(val)) => (
                "settings_write",
                server.app.settings.write(&dir, &name, val),
            ),
            _ => {
                log(server, header, json!({"name": name, "rc": RC_EINVAL}));
                return rc_body(RC_EINVAL);
            }
        },
        _ => ("settings_delete", server.app.settings.delete(&dir, &name)),
    };
    match result {
        Ok(()) => {
            log(server, header, json!({ "name": name }));
            let mut fields = json!({ "name": name });
            if name != ADMIN_PW && event == "settings_write" {
                fields["value"] = json!(server.app.settings.get(&name));
            }
            server.events.log(event, fields);
            encode(vec![])
        }
        Err(rc) => {
            log(server, header, json!({"name": name, "settings_rc": rc}));
            group_error(header, rc)
        }
    }
}

/// Settings read (3/0 read).
fn read(server: &Server, header: Header, map: &Map, name: &str) -> Vec<u8> {
    let Ok(asked) = map.u32("max_size") else {
        log(server, header, json!({"name": name, "rc": RC_EINVAL}));
        return rc_body(RC_EINVAL);
    };
    if name == ADMIN_PW {
        let fields = json!({"name": name, "settings_rc": ERR_READ_NOT_SUPPORTED});
        log(server, header, fields);
        return group_error(header, ERR_READ_NOT_SUPPORTED);
    }
    let Some(value) = server.app.settings.get(name) else {
        log(
            server,
            header,
            json!({"name": name, "settings_rc": ERR_KEY_NOT_FOUND}),
        );
        return group_error(header, ERR_KEY_NOT_FOUND);
    };
    log(server, header, json!({ "name": name }));
    let max = asked.unwrap_or(VALUE_LEN).min(VALUE_LEN) as usize;
    let val = value.as_bytes()[..value.len().min(max)].to_vec();
    let mut entries = vec![("val", Value::Bytes(val))];
    if asked.is_some_and(|a| a > VALUE_LEN) {
        entries.push(("max_size", Value::Integer(VALUE_LEN.into())));
    }
    encode(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_persist_and_deletes_restore_the_factory_value() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Settings::load(dir.path(), Variant::SensorEnv1).unwrap();
        assert_eq!(s.get(ADMIN_PW), Some("nordsense"));
        assert!(s.is_on(NET_TELNET) && s.is_on(MCUMGR_UDP));
        s.write(dir.path(), MCUMGR_UDP, b"0").unwrap();
        s.write(dir.path(), ADMIN_PW, "Str0ng pässword".as_bytes())
            .unwrap();
        let again = Settings::load(dir.path(), Variant::SensorEnv1).unwrap();
        assert_eq!(again, s, "a write is on disk at once");
        assert!(!again.is_on(MCUMGR_UDP));
        s.delete(dir.path(), MCUMGR_UDP).unwrap();
        assert!(Settings::load(dir.path(), Variant::SensorEnv1)
            .unwrap()
            .is_on(MCUMGR_UDP));
        assert_eq!(
            s.write(dir.path(), "app/nope", b"1"),
            Err(ERR_KEY_NOT_FOUND)
        );
        assert_eq!(s.delete(dir.path(), "x/y"), Err(ERR_KEY_NOT_FOUND));
        for (name, bad) in [
            (NET_TELNET, &b"yes"[..]),
            (ADMIN_PW, b""),
            (ADMIN_PW, b"\xff\xfe"),
            (ADMIN_PW, b"tab\there"),
            (MQTT_BROKER, b"no-port"),
            (MQTT_BROKER, b"host:0"),
        ] {
            assert_eq!(
                s.write(dir.path(), name, bad),
                Err(ERR_ROOT_KEY_NOT_FOUND),
                "{name} = {bad:?} must be refused"
            );
        }
    }

    #[test]
    fn the_plug_has_its_own_names_and_factory_values() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Settings::load(dir.path(), Variant::PlugMini).unwrap();
        assert_eq!(s.get(ADMIN_PW), Some("plugmini"));
        assert!(s.is_on(NET_UPNP) && s.is_factory(ADMIN_PW));
        assert_eq!(s.get(NET_TELNET), None);
        assert_eq!(
            s.write(dir.path(), NET_TELNET, b"1"),
            Err(ERR_KEY_NOT_FOUND)
        );
        s.write(dir.path(), NET_UPNP, b"0").unwrap();
        s.write(dir.path(), ADMIN_PW, b"n3w-pass").unwrap();
        let again = Settings::load(dir.path(), Variant::PlugMini).unwrap();
        assert!(!again.is_on(NET_UPNP) && !again.is_factory(ADMIN_PW));
    }

    #[test]
    fn broker_forms() {
        assert_eq!(broker_parts("127.0.0.1:8883"), Some(("127.0.0.1", 8883)));
        assert_eq!(broker_parts("[::1]:1883"), Some(("::1", 1883)));
        assert_eq!(
            broker_parts("mqtt.nordsense.example:8883"),
            Some(("mqtt.nordsense.example", 8883))
        );
        assert_eq!(broker_parts(":8883"), None);
        assert_eq!(broker_parts("a b:1"), None);
    }
}
