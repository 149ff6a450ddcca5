//! The image and OS commands around the upgrade flow, and several requests in one packet, with Temper's
//! own client and codec.

use std::time::{Duration, Instant};

use ciborium::Value;
use temper_core::proto::smp::client::SmpClientError;
use temper_core::proto::smp::header::SmpError;
use temper_core::proto::smp::messages::{Echo, ImageStateRead};

use crate::support::*;

/// The rc of an image-group (v2) error; anything else fails the test.
fn group_rc<T: std::fmt::Debug>(r: Result<T, SmpClientError>) -> u64 {
    match r {
        Err(SmpClientError::Smp(SmpError::GroupRc { group: 1, rc })) => rc,
        other => panic!("expected an image group error, got {other:?}"),
    }
}

/// Image state write and erase refuse what Zephyr refuses; bootloader info answers like os_mgmt.
#[tokio::test]
async fn state_write_erase_and_bootloader_info_follow_zephyr() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = spawn(&tmp.path().join("state"), "127.79.0.6", &[]);
    let mut c = client(&sim.info.port);
    let info = c.request(&BootloaderInfo(map(vec![]))).await.unwrap();
    assert_eq!(
        info,
        map(vec![("bootloader", Value::Text("MCUboot".into()))])
    );
    let mode = c
        .request(&BootloaderInfo(map(vec![(
            "query",
            Value::Text("mode".into()),
        )])))
        .await;
    assert_eq!(
        mode.unwrap(),
        map(vec![("mode", Value::Integer(3.into()))]),
        "swap-using-move"
    );
    let other = c
        .request(&BootloaderInfo(map(vec![(
            "query",
            Value::Text("x".into()),
        )])))
        .await;
    assert!(
        matches!(
            other,
            Err(SmpClientError::Smp(SmpError::DeviceRc { rc: 3, .. }))
        ),
        "{other:?}"
    );

    let bytes = |b: &[u8]| Value::Bytes(b.to_vec());
    let st = c.request(&ImageStateRead {}).await.unwrap();
    let factory = slot(&st, 0).unwrap().hash.clone();
    assert_eq!(
        group_rc(c.request(&StateWrite(map(vec![]))).await),
        24,
        "test without a hash"
    );
    let unknown = map(vec![("hash", bytes(&[0; 32]))]);
    assert_eq!(
        group_rc(c.request(&StateWrite(unknown)).await),
        8,
        "hash not found"
    );
    let active_test = map(vec![
        ("hash", bytes(&factory)),
        ("confirm", Value::Bool(false)),
    ]);
    assert_eq!(
        group_rc(c.request(&StateWrite(active_test)).await),
        33,
        "test of the active slot"
    );
    let confirm = map(vec![("confirm", Value::Bool(true))]);
    assert!(
        c.request(&StateWrite(confirm.clone())).await.is_ok(),
        "confirming the running image"
    );

    let (file, hash) = signed_image(
        tmp.path(),
        &data("zephyr-boot-ecdsa-p256.pem"),
        "1.2.4",
        8 * 1024,
    );
    let image = std::fs::read(file).unwrap();
    c.upload(&image, |_, _| {}).await.expect("upload");
    c.request(&Erase(map(vec![("slot", Value::Integer(1.into()))])))
        .await
        .expect("erase of an idle slot 1");
    let st = c.request(&ImageStateRead {}).await.unwrap();
    assert!(slot(&st, 1).is_none(), "erased: {st:?}");

    c.upload(&image, |_, _| {}).await.expect("upload again");
    let test = map(vec![("hash", bytes(&hash))]);
    let st = c
        .request(&StateWrite(test.clone()))
        .await
        .expect("mark for test");
    assert!(
        slot(&st, 1).is_some_and(|s| s.pending && !s.permanent),
        "{st:?}"
    );
    assert!(
        c.request(&StateWrite(test)).await.is_ok(),
        "marking it again changes nothing"
    );
    assert_eq!(
        group_rc(c.request(&Erase(map(vec![]))).await),
        9,
        "a pending slot is in use"
    );
    let perm = map(vec![("hash", bytes(&hash)), ("confirm", Value::Bool(true))]);
    assert_eq!(
        group_rc(c.request(&StateWrite(perm)).await),
        28,
        "already pending for test"
    );
    assert_eq!(
        group_rc(c.request(&StateWrite(confirm)).await),
        28,
        "no confirm while a test is pending"
    );
    assert_eq!(
        group_rc(c.upload(&image, |_, _| {}).await),
        9,
        "no upload over a pending image"
    );
}

/// Several requests in one packet (Zephyr `smp_process_request_packet`): each gets its own reply, in order;
/// an SMP-level error (`{"rc"}`, also a v1 group error) ends the packet, a v2 group error (`{"err"}`) does
/// not; bytes too short for a header are dropped.
#[tokio::test]
async fn several_requests_in_one_packet() {
    use temper_core::proto::smp::header::{Header, SmpVersion};
    use temper_core::proto::smp::messages::{encode_request, McumgrParams};
    use temper_core::proto::smp::serial::{encode, Decoder, MAX_LINE};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_serial::SerialPortBuilderExt;

    let tmp = tempfile::tempdir().unwrap();
    let sim = spawn(&tmp.path().join("state"), "127.79.0.7", &[]);
    let mut port = tokio_serial::new(&sim.info.port, 921_600)
        .open_native_async()
        .expect("open the port");
    let mut decoder = Decoder::new();
    let echo =
        |seq: u8, text: &str| encode_request(&Echo { text: text.into() }, SmpVersion::V2, seq);
    let bad_hash = |version, seq| {
        encode_request(
            &StateWrite(map(vec![("hash", Value::Bytes(vec![1; 5]))])),
            version,
            seq,
        )
    };
    let mut unknown_group = echo(5, "x");
    unknown_group[4..6].copy_from_slice(&77u16.to_be_bytes());
    let cases: Vec<(Vec<Vec<u8>>, Vec<u8>)> = vec![
        (
            vec![
                echo(1, "a"),
                encode_request(&McumgrParams {}, SmpVersion::V2, 2),
                echo(3, "b"),
            ],
            vec![1, 2, 3],
        ),
        (
            vec![echo(4, "c"), unknown_group, echo(6, "never")],
            vec![4, 5],
        ),
        (vec![bad_hash(SmpVersion::V2, 7), echo(8, "d")], vec![7, 8]),
        (
            vec![bad_hash(SmpVersion::V1, 9), echo(10, "never")],
            vec![9],
        ),
        (vec![echo(11, "e"), vec![0x0a, 0, 0, 1, 0]], vec![11]),
    ];
    for (requests, expected) in cases {
        let packet = requests.concat();
        port.write_all(&encode(&packet, MAX_LINE)).await.unwrap();
        // Wait for the expected replies (3 s at most), then 300 ms more for any that should not come.
        let mut replies = Vec::new();
        let mut deadline = Instant::now() + Duration::from_secs(3);
        let mut complete = false;
        while Instant::now() < deadline {
            if !complete && replies.len() >= expected.len() {
                complete = true;
                deadline = Instant::now() + Duration::from_millis(300);
            }
            while let Some(Ok(reply)) = decoder.next_packet() {
                replies.push(reply);
            }
            let mut buf = [0u8; 512];
            let left = deadline.saturating_duration_since(Instant::now());
            if let Ok(Ok(n)) = tokio::time::timeout(left, port.read(&mut buf)).await {
                decoder.push(&buf[..n]);
            }
        }
        let seqs: Vec<u8> = replies
            .iter()
            .map(|r| Header::parse(r).unwrap().seq)
            .collect();
        assert_eq!(
            seqs,
            expected,
            "replies to {} requests in one packet",
            requests.len()
        );
        let bodies: Vec<Value> = replies
            .iter()
            .map(|r| ciborium::from_reader(&r[8..]).unwrap())
            .collect();
        let rc = |b: &Value| {
            b.as_map()
                .and_then(|m| m.iter().find(|(k, _)| k.as_text() == Some("rc")))
                .map(|(_, v)| v.clone())
        };
        match expected[0] {
            4 => assert_eq!(
                rc(&bodies[1]),
                Some(Value::Integer(8.into())),
                "unknown group: ENOTSUP"
            ),
            7 => assert!(
                format!("{:?}", bodies[0]).contains("err"),
                "v2 group error: {:?}",
                bodies[0]
            ),
            9 => assert_eq!(
                rc(&bodies[0]),
                Some(Value::Integer(3.into())),
                "v1: INVALID_HASH maps to EINVAL"
            ),
            _ => {}
        }
    }
}
