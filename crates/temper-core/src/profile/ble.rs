//! A model's Bluetooth LE identity (`[ble]`): how it advertises, so a scan can tell it from its neighbours,
//! and how it pairs. A model may have a USB identity (`recognition.usb_ids`), a BLE one, or both.
//!
//! A device matches when every filter the profile gives matches: one of `service_uuids` among its advertised
//! services, `name_pattern` on its local name, `manufacturer_id` (and `manufacturer_prefix`) in its
//! manufacturer data. At least one filter is required: a profile that matches everything would claim every
//! headset in the room.

use regex::Regex;
use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;
use uuid::Uuid;

use super::error::{Issue, ProfileErrorKind as Kind};
use super::validate::compile;
use crate::transport::ble::{Passkey, Sighting};

/// How the model pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Pairing {
    /// No pairing: its management characteristics are open (hardening cannot rely on bonds).
    None,
    /// LE Secure Connections passkey entry: the passkey is on the device's label (or `passkey`).
    Passkey,
}

/// `[ble]` as written.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Ble")]
pub(crate) struct RawBle {
    /// Advertised service UUIDs (any one matches), e.g. "8d53dc1d-1db7-4cd3-868b-8a527460aa84".
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub service_uuids: Vec<Spanned<String>>,
    /// Regex over the advertised local name, e.g. '^PlugMini-[0-9A-F]{4}$'.
    #[schemars(with = "Option<String>")]
    pub name_pattern: Option<Spanned<String>>,
    /// Company identifier of the manufacturer data the model advertises (0xFFFF: none assigned).
    #[schemars(with = "Option<u16>")]
    pub manufacturer_id: Option<Spanned<u16>>,
    /// Hex bytes the manufacturer data starts with (needs manufacturer_id), e.g. "504d".
    #[schemars(with = "Option<String>")]
    pub manufacturer_prefix: Option<Spanned<String>>,
    /// "passkey" (LE Secure Connections passkey entry) or "none".
    #[schemars(with = "Pairing")]
    pub pairing: Spanned<Pairing>,
    /// The passkey when every unit has the same one (six digits); leave it out when it is printed per unit on
    /// the label (the operator gives it).
    #[schemars(with = "Option<String>")]
    pub passkey: Option<Spanned<String>>,
}

/// A model's BLE identity, checked.
#[derive(Debug, Clone)]
pub struct BleIdentity {
    /// Advertised services, any one of which identifies the model.
    pub service_uuids: Vec<Uuid>,
    /// Matches the advertised local name.
    pub name_pattern: Option<Regex>,
    /// Company identifier and the bytes its manufacturer data starts with.
    pub manufacturer: Option<(u16, Vec<u8>)>,
    /// How it pairs.
    pub pairing: Pairing,
    /// The model-wide passkey, if it has one.
    pub passkey: Option<Passkey>,
}

impl BleIdentity {
    /// Whether `seen` advertises like this model.
    pub fn matches(&self, seen: &Sighting) -> bool {
        let services = self.service_uuids.is_empty()
            || self.service_uuids.iter().any(|u| seen.services.contains(u));
        let name = self
            .name_pattern
            .as_ref()
            .is_none_or(|re| seen.name.as_deref().is_some_and(|n| re.is_match(n)));
        let maker = self.manufacturer.as_ref().is_none_or(|(id, prefix)| {
            seen.manufacturer_data
                .get(id)
                .is_some_and(|data| data.starts_with(prefix))
        });
        services && name && maker
    }
}

/// Checks `[ble]`.
pub(crate) fn check(raw: &RawBle) -> Result<(), Issue> {
    build(raw).map(|_| ())
}

/// Builds the identity (and checks it on the way).
pub(crate) fn build(raw: &RawBle) -> Result<BleIdentity, Issue> {
    let mut service_uuids = Vec::new();
    for (i, u) in raw.service_uuids.iter().enumerate() {
        let uuid = Uuid::parse_str(u.get_ref()).map_err(|e| {
            Issue::at(
                Kind::InvalidValue,
                u,
                format!("ble.service_uuids[{i}]"),
                format!("{:?} is not a UUID ({e})", u.get_ref()),
                "write the 128-bit form, e.g. \"8d53dc1d-1db7-4cd3-868b-8a527460aa84\"",
            )
        })?;
        service_uuids.push(uuid);
    }
    let name_pattern = raw
        .name_pattern
        .as_ref()
        .map(|p| compile(p, "ble.name_pattern", None))
        .transpose()?;
    let manufacturer = match (&raw.manufacturer_id, &raw.manufacturer_prefix) {
        (None, Some(prefix)) => {
            return Err(Issue::at(
                Kind::BadReference,
                prefix,
                "ble.manufacturer_prefix",
                "manufacturer_prefix without manufacturer_id",
                "add manufacturer_id (the company identifier the data is advertised under)",
            ))
        }
        (None, None) => None,
        (Some(id), prefix) => {
            let bytes = match prefix {
                Some(p) => hex::decode(p.get_ref()).map_err(|e| {
                    Issue::at(
                        Kind::InvalidValue,
                        p,
                        "ble.manufacturer_prefix",
                        format!("{:?} is not hex bytes ({e})", p.get_ref()),
                        "write an even number of hex digits, e.g. \"504d\"",
                    )
                })?,
                None => Vec::new(),
            };
            Some((*id.get_ref(), bytes))
        }
    };
    if service_uuids.is_empty() && name_pattern.is_none() && manufacturer.is_none() {
        return Err(Issue::at(
            Kind::MissingField,
            &raw.pairing,
            "ble",
            "[ble] gives nothing to recognise the model by",
            "add service_uuids, name_pattern or manufacturer_id (what the model advertises)",
        ));
    }
    let passkey = raw
        .passkey
        .as_ref()
        .map(|p| {
            p.get_ref().parse::<Passkey>().map_err(|e| {
                Issue::at(
                    Kind::InvalidValue,
                    p,
                    "ble.passkey",
                    e,
                    "or leave it out: the operator then types the passkey from the label",
                )
            })
        })
        .transpose()?;
    let pairing = *raw.pairing.get_ref();
    if let (Pairing::None, Some(p)) = (pairing, &raw.passkey) {
        return Err(Issue::at(
            Kind::BadReference,
            p,
            "ble.passkey",
            "a passkey with pairing = \"none\"",
            "set pairing = \"passkey\", or remove the passkey",
        ));
    }
    Ok(BleIdentity {
        service_uuids,
        name_pattern,
        manufacturer,
        pairing,
        passkey,
    })
}
