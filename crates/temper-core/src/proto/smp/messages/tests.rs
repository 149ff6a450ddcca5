use super::*;
use ciborium::Value;

/// A reply packet with the given header fields and payload (len computed).
fn reply(version: SmpVersion, op: Op, group: u16, id: u8, seq: u8, payload: &[u8]) -> Vec<u8> {
    let header = Header {
        version,
        op,
        flags: 0,
        len: payload.len() as u16,
        group,
        seq,
        id,
    };
    let mut out = header.to_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// The well-formed reply to `R` carrying `payload`.
fn reply_to<R: Request>(seq: u8, payload: &[u8]) -> Vec<u8> {
    reply(
        SmpVersion::V2,
        R::OP.response(),
        R::GROUP,
        R::ID,
        seq,
        payload,
    )
}

fn cbor(value: Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(&value, &mut out).unwrap();
    out
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::Text(k.into()), v))
            .collect(),
    )
}

fn decode_value(payload: &[u8]) -> Value {
    ciborium::from_reader(payload).unwrap()
}

fn keys(value: &Value) -> Vec<String> {
    value
        .as_map()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_text().unwrap().to_owned())
        .collect()
}

fn sample_state() -> ImageState {
    ImageState {
        images: vec![
            ImageSlot {
                image: None,
                slot: 0,
                version: "1.2.3".into(),
                hash: vec![0xaa; 32],
                bootable: true,
                pending: false,
                confirmed: true,
                active: true,
                permanent: false,
            },
            ImageSlot {
                image: Some(1),
                slot: 1,
                version: "1.3.0.7".into(),
                hash: vec![0x55; 32],
                bootable: true,
                pending: true,
                confirmed: false,
                active: false,
                permanent: true,
            },
        ],
        split_status: Some(0),
    }
}

// ---- requests ----

#[test]
fn smp_echo_request_matches_test_vector() {
    let echo = Echo { text: "hi".into() };
    assert_eq!(
        encode_request(&echo, SmpVersion::V2, 1),
        [0x0a, 0, 0, 6, 0, 0, 1, 0, 0xa1, 0x61, 0x64, 0x62, 0x68, 0x69]
    );
    assert_eq!(
        encode_request(&echo, SmpVersion::V1, 7),
        [0x02, 0, 0, 6, 0, 0, 7, 0, 0xa1, 0x61, 0x64, 0x62, 0x68, 0x69]
    );
}

#[test]
fn smp_params_and_state_requests_match_known_bytes() {
    assert_eq!(
        encode_request(&McumgrParams {}, SmpVersion::V2, 2),
        [0x08, 0, 0, 1, 0, 0, 2, 6, 0xa0]
    );
    assert_eq!(
        encode_request(&ImageStateRead {}, SmpVersion::V1, 3),
        [0x00, 0, 0, 1, 0, 1, 3, 0, 0xa0]
    );
}

#[test]
fn smp_request_payloads_round_trip() {
    fn round_trip<T: Request + DeserializeOwned + PartialEq + std::fmt::Debug>(req: T) {
        let back: T = from_cbor(&req.payload()).unwrap();
        assert_eq!(back, req);
    }
    round_trip(Echo {
        text: "héllo".into(),
    });
    round_trip(McumgrParams {});
    round_trip(ImageStateRead {});
    round_trip(ImageUpload::first(
        Some(0),
        4096,
        Some(vec![7; 32]),
        vec![0x3d; 64],
    ));
    round_trip(ImageUpload::first(None, 10, None, vec![1; 32]));
    round_trip(ImageUpload::next(512, vec![9; 100]));
    round_trip(ImageUpload {
        upgrade: Some(true),
        ..ImageUpload::first(Some(1), 100, None, vec![0; 40])
    });
}

#[test]
fn smp_upload_chunk_payload_keys_and_bstr() {
    let first = decode_value(
        &ImageUpload::first(Some(0), 4096, Some(vec![7; 32]), vec![1, 2, 3]).payload(),
    );
    assert_eq!(keys(&first), ["image", "len", "off", "sha", "data"]);
    let get = |v: &Value, k: &str| {
        v.as_map()
            .unwrap()
            .iter()
            .find(|(key, _)| key.as_text() == Some(k))
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    // Byte strings, not arrays of integers.
    assert_eq!(get(&first, "data"), Value::Bytes(vec![1, 2, 3]));
    assert_eq!(get(&first, "sha"), Value::Bytes(vec![7; 32]));
    assert_eq!(get(&first, "off"), Value::Integer(0.into()));
    assert_eq!(get(&first, "len"), Value::Integer(4096.into()));

    let next = decode_value(&ImageUpload::next(512, vec![4, 5]).payload());
    assert_eq!(keys(&next), ["off", "data"]);
    // Exact bytes: {"off": 512, "data": h'0405'}.
    assert_eq!(
        ImageUpload::next(512, vec![4, 5]).payload(),
        [
            0xa2, 0x63, b'o', b'f', b'f', 0x19, 0x02, 0x00, 0x64, b'd', b'a', b't', b'a', 0x42, 4,
            5
        ]
    );
}

// ---- responses ----

#[test]
fn smp_response_payloads_round_trip() {
    let echo = EchoResponse { text: "hi".into() };
    let bytes = reply_to::<Echo>(1, &to_cbor(&echo));
    assert_eq!(decode_response::<Echo>(&bytes, 1), Ok(echo));

    let params = McumgrParamsResponse {
        buf_size: 2475,
        buf_count: 4,
    };
    let bytes = reply_to::<McumgrParams>(2, &to_cbor(&params));
    assert_eq!(decode_response::<McumgrParams>(&bytes, 2), Ok(params));

    let state = sample_state();
    let bytes = reply_to::<ImageStateRead>(3, &to_cbor(&state));
    assert_eq!(decode_response::<ImageStateRead>(&bytes, 3), Ok(state));

    for rsp in [
        ImageUploadResponse {
            off: 1024,
            matched: None,
        },
        ImageUploadResponse {
            off: 4096,
            matched: Some(true),
        },
    ] {
        let bytes = reply_to::<ImageUpload>(4, &to_cbor(&rsp));
        assert_eq!(decode_response::<ImageUpload>(&bytes, 4), Ok(rsp));
    }
}

#[test]
fn smp_echo_response_known_bytes() {
    // {"r": "hi"}, v1 write response, seq 1.
    let bytes = [
        0x03, 0, 0, 6, 0, 0, 1, 0, 0xa1, 0x61, 0x72, 0x62, 0x68, 0x69,
    ];
    assert_eq!(
        decode_response::<Echo>(&bytes, 1),
        Ok(EchoResponse { text: "hi".into() })
    );
}

#[test]
fn smp_image_state_frugal_list_and_unknown_keys() {
    // FRUGAL_LIST: only true flags, no splitStatus; plus a key this code does not know.
    let payload = cbor(map(vec![(
        "images",
        Value::Array(vec![map(vec![
            ("slot", 0.into()),
            ("version", "2.0.0".into()),
            ("hash", Value::Bytes(vec![1; 32])),
            ("active", true.into()),
            ("future_key", 5.into()),
        ])]),
    )]));
    let state =
        decode_response::<ImageStateRead>(&reply_to::<ImageStateRead>(9, &payload), 9).unwrap();
    assert_eq!(state.split_status, None);
    let slot = &state.images[0];
    assert!(slot.active && !slot.confirmed && !slot.bootable && !slot.pending && !slot.permanent);
    assert_eq!(slot.hash, vec![1; 32]);
}

#[test]
fn smp_legacy_rc_zero_is_success() {
    let payload = cbor(map(vec![("rc", 0.into()), ("off", 64.into())]));
    assert_eq!(
        decode_response::<ImageUpload>(&reply_to::<ImageUpload>(5, &payload), 5),
        Ok(ImageUploadResponse {
            off: 64,
            matched: None
        })
    );
}

// ---- header checks ----

#[test]
fn smp_decode_wrong_seq() {
    let bytes = reply_to::<Echo>(3, &cbor(map(vec![("r", "x".into())])));
    assert_eq!(
        decode_response::<Echo>(&bytes, 4),
        Err(SmpError::UnexpectedSeq {
            expected: 4,
            got: 3
        })
    );
}

#[test]
fn smp_decode_wrong_group_or_id() {
    let payload = cbor(map(vec![("r", "x".into())]));
    let wrong_group = reply(SmpVersion::V2, Op::WriteRsp, 1, 0, 1, &payload);
    assert_eq!(
        decode_response::<Echo>(&wrong_group, 1),
        Err(SmpError::WrongCommand { group: 1, id: 0 })
    );
    let wrong_id = reply(SmpVersion::V2, Op::WriteRsp, 0, 6, 1, &payload);
    assert_eq!(
        decode_response::<Echo>(&wrong_id, 1),
        Err(SmpError::WrongCommand { group: 0, id: 6 })
    );
}

#[test]
fn smp_decode_wrong_op() {
    let payload = cbor(map(vec![("r", "x".into())]));
    // Our own request looped back, and a read response to a write.
    for op in [Op::Write, Op::ReadRsp, Op::Read] {
        let bytes = reply(SmpVersion::V2, op, 0, 0, 1, &payload);
        assert_eq!(decode_response::<Echo>(&bytes, 1), Err(SmpError::BadOp));
    }
}

#[test]
fn smp_decode_length_mismatch() {
    let mut bytes = reply_to::<McumgrParams>(
        1,
        &cbor(map(vec![("buf_size", 384.into()), ("buf_count", 4.into())])),
    );
    let full = bytes.clone();
    bytes.pop();
    assert_eq!(
        decode_response::<McumgrParams>(&bytes, 1),
        Err(SmpError::LengthMismatch)
    );
    let mut longer = full;
    longer.push(0);
    assert_eq!(
        decode_response::<McumgrParams>(&longer, 1),
        Err(SmpError::LengthMismatch)
    );
    assert_eq!(
        decode_response::<McumgrParams>(&longer[..5], 1),
        Err(SmpError::Short)
    );
}

// ---- error bodies ----

#[test]
fn smp_v1_rc_error() {
    let bytes = reply(
        SmpVersion::V1,
        Op::ReadRsp,
        0,
        6,
        1,
        &cbor(map(vec![("rc", 8.into())])),
    );
    assert_eq!(
        decode_response::<McumgrParams>(&bytes, 1),
        Err(SmpError::DeviceRc {
            rc: 8,
            name: "ENOTSUP"
        })
    );
    // With CONFIG_MCUMGR_SMP_VERBOSE_ERR_RESPONSE.
    let bytes = reply(
        SmpVersion::V1,
        Op::WriteRsp,
        1,
        1,
        2,
        &cbor(map(vec![("rc", 3.into()), ("rsn", "bad offset".into())])),
    );
    assert_eq!(
        decode_response::<ImageUpload>(&bytes, 2),
        Err(SmpError::DeviceRc {
            rc: 3,
            name: "EINVAL"
        })
    );
}

#[test]
fn smp_v2_group_error() {
    let err = map(vec![("group", 1.into()), ("rc", 9.into())]);
    let bytes = reply_to::<ImageUpload>(6, &cbor(map(vec![("err", err)])));
    assert_eq!(
        decode_response::<ImageUpload>(&bytes, 6),
        Err(SmpError::GroupRc { group: 1, rc: 9 })
    );
    // rc 0 inside err is no error.
    let err = map(vec![("group", 1.into()), ("rc", 0.into())]);
    let bytes = reply_to::<ImageUpload>(6, &cbor(map(vec![("err", err), ("off", 32.into())])));
    assert_eq!(decode_response::<ImageUpload>(&bytes, 6).unwrap().off, 32);
}

#[test]
fn smp_rc13_is_too_new() {
    // A v1-only device answers a v2 request with a v1 header and rc 13.
    let bytes = reply(
        SmpVersion::V1,
        Op::WriteRsp,
        0,
        0,
        1,
        &cbor(map(vec![("rc", 13.into())])),
    );
    assert_eq!(decode_response::<Echo>(&bytes, 1), Err(SmpError::TooNew));
    let bytes = reply_to::<Echo>(1, &cbor(map(vec![("rc", 13.into())])));
    assert_eq!(decode_response::<Echo>(&bytes, 1), Err(SmpError::TooNew));
}

// ---- malformed payloads ----

fn is_cbor_err<T: std::fmt::Debug>(r: Result<T, SmpError>) -> bool {
    matches!(r, Err(SmpError::Cbor(_)))
}

#[test]
fn smp_garbage_payloads_are_errors() {
    let cases: Vec<Vec<u8>> = vec![
        vec![],                                                     // no payload at all
        vec![0xa1, 0x61],                                           // truncated map
        vec![0x80],                                                 // array, not a map
        vec![0xff],                                                 // break outside indefinite item
        vec![0xa0],                               // empty map: required key missing
        vec![0xa0, 0xa0],                         // trailing item
        cbor(map(vec![("r", 5.into())])),         // wrong type
        cbor(map(vec![("rc", Value::from(-1))])), // negative rc
        cbor(map(vec![("rc", "x".into())])),      // rc not an integer
        cbor(map(vec![("err", 1.into())])),       // err not a map
        vec![0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // huge array length
        vec![0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // huge bstr length
        vec![0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // huge map length
        vec![0x81; 10_000],                       // deep nesting
    ];
    for payload in &cases {
        let bytes = reply_to::<Echo>(1, payload);
        assert!(
            is_cbor_err(decode_response::<Echo>(&bytes, 1)),
            "{payload:02x?}"
        );
    }
    // Hash as an array of integers instead of a byte string.
    let payload = cbor(map(vec![(
        "images",
        Value::Array(vec![map(vec![
            ("slot", 0.into()),
            ("version", "1".into()),
            ("hash", Value::Array(vec![1.into(), 2.into()])),
        ])]),
    )]));
    let bytes = reply_to::<ImageStateRead>(1, &payload);
    assert!(is_cbor_err(decode_response::<ImageStateRead>(&bytes, 1)));
}

#[test]
fn smp_truncated_and_random_packets_never_panic() {
    let good = reply_to::<ImageStateRead>(1, &to_cbor(&sample_state()));
    assert!(decode_response::<ImageStateRead>(&good, 1).is_ok());
    // Every prefix, with and without a header that agrees with the cut length.
    for cut in 0..good.len() {
        assert!(decode_response::<ImageStateRead>(&good[..cut], 1).is_err());
        if cut >= HEADER_LEN {
            let fixed = reply_to::<ImageStateRead>(1, &good[HEADER_LEN..cut]);
            assert!(is_cbor_err(decode_response::<ImageStateRead>(&fixed, 1)));
        }
    }
    // Pseudo-random payloads behind a valid header: any outcome but a panic.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..2_000 {
        let len = (x % 64) as usize;
        let payload: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let _ = decode_response::<ImageStateRead>(&reply_to::<ImageStateRead>(1, &payload), 1);
        let _ = decode_response::<ImageUpload>(&reply_to::<ImageUpload>(1, &payload), 1);
        x = x.wrapping_add(1);
    }
}

/// An arbitrary CBOR value a few levels deep (maps, arrays, text, bytes, integers, floats, booleans).
fn cbor_value() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        any::<i64>().prop_map(|i| Value::Integer(i.into())),
        ".{0,12}".prop_map(Value::Text),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
        any::<bool>().prop_map(Value::Bool),
        any::<f64>().prop_map(Value::Float),
        Just(Value::Null),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((".{0,6}".prop_map(Value::Text), inner), 0..6)
                .prop_map(Value::Map),
        ]
    })
}

proptest::proptest! {
    /// Whatever bytes follow a well-formed header, every response decoder returns (Ok or a typed error) and
    /// never panics.
    #[test]
    fn smp_cbor_decoders_never_panic_on_arbitrary_payloads(
        payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
        seq in proptest::prelude::any::<u8>(),
    ) {
        let _ = decode_response::<Echo>(&reply_to::<Echo>(seq, &payload), seq);
        let _ = decode_response::<ImageStateRead>(&reply_to::<ImageStateRead>(seq, &payload), seq);
        let _ = decode_response::<McumgrParams>(&reply_to::<McumgrParams>(seq, &payload), seq);
        let _ = decode_response::<SettingsRead>(&reply_to::<SettingsRead>(seq, &payload), seq);
        let _ = decode_response::<ShellExec>(&reply_to::<ShellExec>(seq, &payload), seq);
    }

    /// Well-formed CBOR of any shape where a response map is expected: a typed error or a value, no panic;
    /// an error map is reported as the device's error, never as success.
    #[test]
    fn smp_cbor_decoders_take_any_well_formed_cbor(value in cbor_value(), seq in proptest::prelude::any::<u8>()) {
        let mut payload = Vec::new();
        ciborium::into_writer(&value, &mut payload).unwrap();
        let _ = decode_response::<ImageStateRead>(&reply_to::<ImageStateRead>(seq, &payload), seq);
        let _ = decode_response::<ShellExec>(&reply_to::<ShellExec>(seq, &payload), seq);
        let mut with_rc = Vec::new();
        let rc = Value::Map(vec![(Value::Text("rc".into()), Value::Integer(3.into())), (Value::Text("x".into()), value)]);
        ciborium::into_writer(&rc, &mut with_rc).unwrap();
        proptest::prop_assert!(decode_response::<Echo>(&reply_to::<Echo>(seq, &with_rc), seq).is_err());
    }
}
