//! The `zephyr-sensor` model over its PTY: SMP round trips with Temper's own codec, and the real MCUmgr
//! client `smpmgr` (PyPI) as the peer.
//!
//! smpmgr comes from `$TEMPER_SMPMGR` or the venv `/var/tmp/temper-venv` that `scripts/deps.sh test`
//! creates; without it the smpmgr tests fail (they are never skipped).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::Sim;
use sha2::{Digest, Sha256};
use temper_core::proto::smp::header::{Header, SmpVersion};
use temper_core::proto::smp::messages::{
    decode_response, encode_request, Echo, ImageStateRead, ImageUpload, McumgrParams, Request,
};
use temper_core::proto::smp::serial::{encode, Decoder, MAX_LINE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_serial::SerialPortBuilderExt;

const MODEL: &str = "zephyr-sensor";

fn spawn(dir: &std::path::Path, ip: &str, extra: &[&str]) -> Sim {
    let mut args = vec!["--no-usb-bus"];
    args.extend_from_slice(extra);
    Sim::spawn_model(MODEL, dir, ip, &args)
}

/// The host end of the port, speaking SMP over console with the core codec.
struct Host {
    port: tokio_serial::SerialStream,
    decoder: Decoder,
}

impl Host {
    fn open(path: &str) -> Host {
        let port = tokio_serial::new(path, 115_200)
            .open_native_async()
            .expect("open serial port");
        Host {
            port,
            decoder: Decoder::new(),
        }
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        self.port.write_all(bytes).await.expect("write");
        self.port.flush().await.expect("flush");
    }

    /// The next decoded reply packet, or `None` when nothing arrives within `timeout`.
    async fn recv(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(r) = self.decoder.next_packet() {
                if let Ok(p) = r {
                    return Some(p);
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let mut buf = [0u8; 512];
            if let Ok(Ok(n)) = tokio::time::timeout(left, self.port.read(&mut buf)).await {
                self.decoder.push(&buf[..n]);
            }
        }
    }

    /// One request; returns the raw reply header and the decoded result.
    async fn call<R: Request>(
        &mut self,
        req: &R,
        version: SmpVersion,
        seq: u8,
    ) -> (
        Header,
        Result<R::Response, temper_core::proto::smp::header::SmpError>,
    ) {
        let packet = encode_request(req, version, seq);
        self.send_raw(&encode(&packet, MAX_LINE)).await;
        let reply = self
            .recv(Duration::from_secs(5))
            .await
            .expect("a reply within 5 s");
        (
            Header::parse(&reply).expect("reply header"),
            decode_response::<R>(&reply, seq),
        )
    }
}

/// An unsigned MCUboot image (as `imgtool sign` without a key makes it): 32-byte header (version 1.2.3),
/// `body` bytes, and a TLV area holding only the SHA256 TLV, which is the image's last 32 bytes.
fn fake_image(body: usize) -> Vec<u8> {
    let mut img = Vec::new();
    img.extend_from_slice(&0x96f3_b83du32.to_le_bytes());
    img.extend_from_slice(&[0; 4]);
    img.extend_from_slice(&32u16.to_le_bytes());
    img.extend_from_slice(&[0; 2]);
    img.extend_from_slice(&(body as u32).to_le_bytes());
    img.extend_from_slice(&[0; 4]);
    img.extend_from_slice(&[1, 2, 3, 0, 0, 0, 0, 0]);
    img.extend_from_slice(&[0; 4]);
    img.extend((0..body).map(|i| (i * 7 % 251) as u8));
    let hash = Sha256::digest(&img);
    img.extend_from_slice(&[0x07, 0x69, 40, 0, 0x10, 0, 32, 0]);
    img.extend_from_slice(&hash);
    img
}

/// The hash the device reports for a [`fake_image`]: its SHA256 TLV, not the file's SHA-256.
fn tlv_hash(img: &[u8]) -> Vec<u8> {
    img[img.len() - 32..].to_vec()
}

#[tokio::test]
async fn codec_round_trip_echo_params_state_read() {
    let dir = tempfile::tempdir().unwrap();
    let sim = spawn(dir.path(), "127.77.0.1", &[]);
    assert_eq!(sim.info.model, MODEL);
    let mut host = Host::open(&sim.info.port);

    for (seq, version) in [(1, SmpVersion::V2), (2, SmpVersion::V1)] {
        let echo = Echo {
            text: format!("hi {seq}"),
        };
        let (header, reply) = host.call(&echo, version, seq).await;
        assert_eq!(
            header.version, version,
            "reply in the request's SMP version"
        );
        assert_eq!(reply.unwrap().text, echo.text);
    }
    let (_, params) = host.call(&McumgrParams {}, SmpVersion::V2, 3).await;
    let params = params.unwrap();
    assert_eq!((params.buf_size, params.buf_count), (2048, 4));

    let (_, state) = host.call(&ImageStateRead {}, SmpVersion::V2, 4).await;
    let state = state.unwrap();
    assert_eq!(state.images.len(), 1, "slot 1 starts empty: {state:?}");
    let s0 = &state.images[0];
    assert_eq!((s0.slot, s0.active, s0.confirmed), (0, true, true));
    assert_eq!(s0.hash.len(), 32);

    let events = sim.events();
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "smp" && e["group"] == 0 && e["id"] == 6),
        "{events:?}"
    );
}

#[tokio::test]
async fn upload_in_order_out_of_order_and_persisted() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = spawn(dir.path(), "127.77.0.2", &[]);
    let serial = sim.info.serial.clone();
    let img = fake_image(3000);
    let sha = Sha256::digest(&img).to_vec();
    {
        let mut host = Host::open(&sim.info.port);
        let first = ImageUpload::first(
            Some(0),
            img.len() as u64,
            Some(sha.clone()),
            img[..1024].to_vec(),
        );
        let (_, r) = host.call(&first, SmpVersion::V2, 1).await;
        assert_eq!(r.unwrap().off, 1024);
        // Out of order: the device answers with the offset it still expects.
        let (_, r) = host
            .call(
                &ImageUpload::next(2048, img[2048..].to_vec()),
                SmpVersion::V2,
                2,
            )
            .await;
        assert_eq!(r.unwrap().off, 1024);
        let (_, r) = host
            .call(
                &ImageUpload::next(1024, img[1024..2048].to_vec()),
                SmpVersion::V1,
                3,
            )
            .await;
        assert_eq!(r.unwrap().off, 2048);
        let (_, r) = host
            .call(
                &ImageUpload::next(2048, img[2048..].to_vec()),
                SmpVersion::V2,
                4,
            )
            .await;
        let done = r.unwrap();
        assert_eq!((done.off, done.matched), (img.len() as u64, Some(true)));
    }
    assert_eq!(std::fs::read(dir.path().join("slot1.bin")).unwrap(), img);
    let events = sim.events();
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "smp" && e["group"] == 1 && e["id"] == 1 && e["off"] == 2048),
        "{events:?}"
    );

    // Power cycle: same serial, slot 1 still holds the image.
    sim.kill();
    let sim = spawn(dir.path(), "127.77.0.9", &[]);
    assert_eq!(sim.info.serial, serial);
    let mut host = Host::open(&sim.info.port);
    let (_, state) = host.call(&ImageStateRead {}, SmpVersion::V2, 9).await;
    let state = state.unwrap();
    let s1 = state.images.iter().find(|s| s.slot == 1).expect("slot 1");
    assert_eq!(
        (s1.hash.clone(), s1.version.as_str()),
        (tlv_hash(&img), "1.2.3"),
        "slot 1 reports the image's SHA256 TLV"
    );
}

#[tokio::test]
async fn oversized_packet_and_long_line_dropped_without_reply() {
    let dir = tempfile::tempdir().unwrap();
    let sim = spawn(dir.path(), "127.77.0.3", &["--smp-buffers", "384x4"]);
    let mut host = Host::open(&sim.info.port);
    let (_, params) = host.call(&McumgrParams {}, SmpVersion::V2, 1).await;
    assert_eq!(params.unwrap().buf_size, 384);

    let big = encode_request(
        &Echo {
            text: "x".repeat(400),
        },
        SmpVersion::V2,
        2,
    );
    host.send_raw(&encode(&big, MAX_LINE)).await;
    assert_eq!(
        host.recv(Duration::from_millis(800)).await,
        None,
        "a packet over the net buffer gets no reply"
    );

    let mut long = vec![0x06, 0x09];
    long.extend_from_slice(&[b'A'; 200]);
    long.push(b'\n');
    host.send_raw(&long).await;
    assert_eq!(
        host.recv(Duration::from_millis(800)).await,
        None,
        "an over-long line gets no reply"
    );

    let (_, echo) = host
        .call(
            &Echo {
                text: "still here".into(),
            },
            SmpVersion::V2,
            3,
        )
        .await;
    assert_eq!(echo.unwrap().text, "still here");
    assert!(sim.events().iter().any(|e| e["event"] == "smp_drop"));
}

/// The real MCUmgr client; fails (never skips) when it is missing.
fn smpmgr() -> PathBuf {
    if let Some(p) = std::env::var_os("TEMPER_SMPMGR") {
        return p.into();
    }
    let venv = PathBuf::from("/var/tmp/temper-venv/bin/smpmgr");
    assert!(
        venv.exists(),
        "smpmgr not found: set TEMPER_SMPMGR or run `bash scripts/deps.sh test` (creates /var/tmp/temper-venv with smpmgr 0.19)"
    );
    venv
}

fn run_smpmgr(port: &str, args: &[&str]) -> String {
    let out = Command::new(smpmgr())
        .args(["--port", port, "--timeout", "5"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run smpmgr ({e}): run `bash scripts/deps.sh test`"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "smpmgr {args:?} failed: {text}");
    text
}

#[test]
fn smpmgr_echo_state_read_and_upload() {
    let dir = tempfile::tempdir().unwrap();
    let sim = spawn(dir.path(), "127.77.0.4", &[]);
    let port = sim.info.port.clone();

    let echo = run_smpmgr(&port, &["os", "echo", "hello"]);
    assert!(echo.contains("r='hello'"), "{echo}");

    let state = run_smpmgr(&port, &["image", "state-read"]);
    assert!(
        state.contains("slot=0") && state.contains("active=True"),
        "{state}"
    );
    assert!(!state.contains("slot=1"), "{state}");

    let img = fake_image(5000);
    let file = dir.path().join("fw.bin");
    std::fs::write(&file, &img).unwrap();
    run_smpmgr(
        &port,
        &["image", "upload", "--format", "any", file.to_str().unwrap()],
    );
    let state = run_smpmgr(&port, &["image", "state-read"]);
    let sha = hex::encode_upper(tlv_hash(&img));
    assert!(state.contains("slot=1") && state.contains(&sha), "{state}");
    assert!(state.contains("version='1.2.3'"), "{state}");
}

/// Temper's own SMP client against the simulator, both sides the real code: a pipelined upload at Zephyr's own
/// buffer defaults (384 B × 4) lands byte for byte in slot 1, and the echo round-trips.
#[tokio::test]
async fn temper_smp_client_uploads_to_the_simulator() {
    use temper_core::proto::smp::client::SmpClient;
    use temper_core::transport::serial::SerialLink;

    let dir = tempfile::tempdir().unwrap();
    let sim = spawn(dir.path(), "127.77.0.5", &["--smp-buffers", "384x4"]);
    let link = SerialLink::open(&sim.info.port, 115_200).expect("open the simulator's port");
    let mut client = SmpClient::new(link);
    let params = client.params().await.expect("MCUmgr parameters");
    assert_eq!((params.buf_size, params.buf_count), (384, 4));
    let echo = client
        .request(&Echo {
            text: "temper".into(),
        })
        .await
        .expect("echo");
    assert_eq!(echo.text, "temper");
    let image = fake_image(6_000);
    let mut last = 0;
    client
        .upload(&image, |off, _| last = off)
        .await
        .expect("upload");
    assert_eq!(last, image.len() as u64, "progress reaches the end");
    let stored = std::fs::read(dir.path().join("slot1.bin")).expect("slot 1 written");
    assert_eq!(
        stored, image,
        "the simulator holds exactly the uploaded image"
    );
}
