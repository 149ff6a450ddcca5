//! Request maps and reply maps of the settings, shell, enumeration and OS datetime/info commands, read the way
//! zcbor's bulk map decoder reads them: keys by name, unknown keys ignored, a known key of the wrong type makes
//! the request invalid (Zephyr answers `{"rc": 3}`, EINVAL). Byte strings stay byte strings (`bstr`).

use ciborium::Value;

/// One decoded request map.
#[derive(Debug, Clone, Default)]
pub(crate) struct Map(Vec<(Value, Value)>);

/// A key was present with the wrong CBOR type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WrongType;

impl Map {
    /// The payload as one CBOR map; `None` when it is anything else (or not CBOR).
    pub(crate) fn decode(payload: &[u8]) -> Option<Map> {
        match ciborium::from_reader::<Value, _>(payload).ok()? {
            Value::Map(pairs) => Some(Map(pairs)),
            _ => None,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        self.0
            .iter()
            .find(|(k, _)| k.as_text() == Some(key))
            .map(|(_, v)| v)
    }

    /// A text value.
    pub(crate) fn text(&self, key: &str) -> Result<Option<&str>, WrongType> {
        self.get(key)
            .map(|v| v.as_text().ok_or(WrongType))
            .transpose()
    }

    /// A byte-string value.
    pub(crate) fn bytes(&self, key: &str) -> Result<Option<&[u8]>, WrongType> {
        self.get(key)
            .map(|v| v.as_bytes().map(Vec::as_slice).ok_or(WrongType))
            .transpose()
    }

    /// An unsigned integer that fits 32 bits.
    pub(crate) fn u32(&self, key: &str) -> Result<Option<u32>, WrongType> {
        self.get(key)
            .map(|v| {
                v.as_integer()
                    .and_then(|i| u32::try_from(i).ok())
                    .ok_or(WrongType)
            })
            .transpose()
    }
}

/// A reply map with these entries, in this order.
pub(crate) fn encode(entries: Vec<(&str, Value)>) -> Vec<u8> {
    let map = Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::Text(k.to_string()), v))
            .collect(),
    );
    super::smp::cbor(&map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_keys_by_type() {
        let payload = encode(vec![
            ("name", Value::Text("a/b".into())),
            ("val", Value::Bytes(vec![1, 2])),
            ("max_size", Value::Integer(7.into())),
            ("junk", Value::Bool(true)),
        ]);
        let m = Map::decode(&payload).unwrap();
        assert_eq!(m.text("name"), Ok(Some("a/b")));
        assert_eq!(m.bytes("val"), Ok(Some(&[1u8, 2][..])));
        assert_eq!(m.u32("max_size"), Ok(Some(7)));
        assert_eq!(m.text("missing"), Ok(None));
        assert_eq!(
            m.bytes("name"),
            Err(WrongType),
            "a text is not a byte string"
        );
        assert!(Map::decode(&super::super::smp::cbor(&[1, 2])).is_none());
        assert!(Map::decode(b"\xff").is_none());
    }
}
