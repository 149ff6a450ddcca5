//! The simulated bus and the watcher, against temporary directories.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use super::*;

fn announcement(serial: &str, port: &Path, pid: u32) -> Announcement {
    Announcement {
        port: port.display().to_string(),
        vid: 0x10c4,
        pid: 0xea60,
        serial: serial.into(),
        manufacturer: Some("Silicon Labs".into()),
        product: Some("CP2102 USB to UART Bridge Controller".into()),
        pid_of_process: pid,
    }
}

/// A pid that was ours and is gone (reaped).
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("spawn true");
    let pid = child.id();
    child.wait().expect("wait");
    pid
}

fn json_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

#[test]
fn announced_device_is_listed_and_withdrawn_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let bus_dir = dir.path().join("bus");
    let port = dir.path().join("pts-1");
    std::fs::write(&port, "").unwrap();
    let guard = announce(&bus_dir, &announcement("00aa", &port, std::process::id())).unwrap();
    assert_eq!(
        json_files(&bus_dir),
        vec!["00aa.json"],
        "one file, no temporary left"
    );
    let found = SimulatedUsbBus::new(&bus_dir).scan().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, "sim:00aa");
    assert_eq!(found[0].port(), Some(port.to_str().unwrap()));
    assert_eq!(found[0].serial(), Some("00aa"));
    assert_eq!(found[0].source, Source::Simulated);
    assert_eq!(found[0].simulator_pid, Some(std::process::id()));
    drop(guard);
    assert_eq!(
        SimulatedUsbBus::new(&bus_dir).scan().unwrap(),
        vec![],
        "dropping the guard unplugs"
    );
}

/// A simulator killed with SIGKILL leaves its file: it is not listed, and it is removed.
#[test]
fn stale_announcements_are_skipped_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let port = dir.path().join("pts-2");
    std::fs::write(&port, "").unwrap();
    let dead = announce(dir.path(), &announcement("dead", &port, dead_pid())).unwrap();
    let gone = dir.path().join("no-such-pts");
    let unplugged = announce(
        dir.path(),
        &announcement("noport", &gone, std::process::id()),
    )
    .unwrap();
    let live = announce(dir.path(), &announcement("live", &port, std::process::id())).unwrap();
    let found = SimulatedUsbBus::new(dir.path()).scan().unwrap();
    let ids: Vec<&str> = found.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["sim:live"],
        "a dead process or a missing port makes a file stale"
    );
    assert_eq!(
        json_files(dir.path()),
        vec!["live.json"],
        "stale files are removed"
    );
    std::mem::forget((dead, unplugged));
    drop(live);
}

/// Garbage and temporary files are ignored, not errors; a missing bus directory is an empty bus.
#[test]
fn garbage_is_ignored_and_missing_dir_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("junk.json"), "{not json").unwrap();
    std::fs::write(dir.path().join("README"), "hello").unwrap();
    std::fs::write(dir.path().join(".x.json.1.tmp"), "{").unwrap();
    let bus = SimulatedUsbBus::new(dir.path());
    assert_eq!(bus.scan().unwrap(), vec![]);
    assert_eq!(
        bus.scan().unwrap(),
        vec![],
        "scanning again (warned once) is still fine"
    );
    assert!(
        dir.path().join("junk.json").exists(),
        "garbage is not deleted"
    );
    let missing = SimulatedUsbBus::new(dir.path().join("nobody-announced-yet"));
    assert_eq!(missing.scan().unwrap(), vec![]);
}

#[test]
fn unsafe_serials_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for serial in ["", "../x", ".hidden"] {
        let err = announce(dir.path(), &announcement(serial, dir.path(), 1)).unwrap_err();
        assert_eq!(err.code(), "discovery-bad-serial", "{serial:?}: {err}");
    }
}

#[test]
fn find_by_serial_explains_none_and_two() {
    let dir = tempfile::tempdir().unwrap();
    let port = dir.path().join("pts-3");
    std::fs::write(&port, "").unwrap();
    let _a = announce(dir.path(), &announcement("aaaa", &port, std::process::id())).unwrap();
    let found = SimulatedUsbBus::new(dir.path()).scan().unwrap();
    assert_eq!(find_by_serial(&found, "aaaa").unwrap().id, "sim:aaaa");
    let err = find_by_serial(&found, "bbbb").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "no attached device has the USB serial \"bbbb\"; attached: {} (10c4:ea60, serial aaaa, \
             Silicon Labs CP2102 USB to UART Bridge Controller, simulated)",
            port.display()
        )
    );
    assert_eq!(
        find_by_serial(&[], "bbbb").unwrap_err().to_string(),
        "no attached device has the USB serial \"bbbb\"; nothing is attached"
    );
    let mut twice = found.clone();
    twice.push(AttachedDevice {
        id: "sim:other".into(),
        ..found[0].clone()
    });
    let err = find_by_serial(&twice, "aaaa").unwrap_err();
    assert_eq!(err.code(), "device-serial-ambiguous");
    assert!(
        err.to_string()
            .starts_with("2 attached devices have the USB serial \"aaaa\""),
        "{err}"
    );
}

/// What is there at start is reported before `start` returns; plugs, unplugs and a power cycle onto a new
/// port follow; nothing is reported after the watcher is dropped.
#[test]
fn watcher_reports_present_then_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (bus_dir, port_a, port_b) = (
        dir.path().join("bus"),
        dir.path().join("a"),
        dir.path().join("b"),
    );
    std::fs::write(&port_a, "").unwrap();
    std::fs::write(&port_b, "").unwrap();
    let first = announce(&bus_dir, &announcement("0001", &port_a, std::process::id())).unwrap();
    let (tx, rx) = mpsc::channel();
    let discovery = Discovery::new(vec![Box::new(SimulatedUsbBus::new(&bus_dir))]);
    let watcher = Watcher::start(discovery, Duration::from_millis(20), move |e| {
        let _ = tx.send(e);
    })
    .unwrap();
    let next = || {
        rx.recv_timeout(Duration::from_secs(5))
            .expect("an event within 5 s")
    };
    assert!(matches!(next(), DiscoveryEvent::Attached(d) if d.id == "sim:0001"));
    assert!(
        rx.try_recv().is_err(),
        "the initial report is complete when start returns"
    );

    let second = announce(&bus_dir, &announcement("0002", &port_b, std::process::id())).unwrap();
    assert!(matches!(next(), DiscoveryEvent::Attached(d) if d.id == "sim:0002"));
    drop(second);
    let detached = DiscoveryEvent::Detached {
        id: "sim:0002".into(),
        port: Some(port_b.display().to_string()),
    };
    assert_eq!(next(), detached);

    let moved = announce(&bus_dir, &announcement("0001", &port_b, std::process::id())).unwrap();
    assert!(
        matches!(next(), DiscoveryEvent::Detached { id, port } if id == "sim:0001" && port == Some(port_a.display().to_string()))
    );
    assert!(
        matches!(next(), DiscoveryEvent::Attached(d) if d.port() == Some(port_b.to_str().unwrap())),
        "a new port is a re-plug"
    );
    watcher.stop();
    drop((first, moved));
    std::thread::sleep(Duration::from_millis(60));
    assert!(rx.try_recv().is_err(), "no event after the watcher stopped");
}

/// JSON of events: tagged by `event`, kebab-case names, and a round trip.
#[test]
fn event_json_shape() {
    let device = AttachedDevice {
        id: "sim:0001".into(),
        transport: Transport::Serial {
            port: "/dev/pts/3".into(),
        },
        usb: None,
        source: Source::Simulated,
        simulator_pid: Some(7),
    };
    let json = serde_json::to_value(DiscoveryEvent::Attached(device.clone())).unwrap();
    assert_eq!(json["event"], "attached");
    assert_eq!(json["transport"]["kind"], "serial");
    assert_eq!(json["simulator-pid"], 7);
    assert_eq!(
        serde_json::from_value::<DiscoveryEvent>(json).unwrap(),
        DiscoveryEvent::Attached(device)
    );
    let json = serde_json::to_value(DiscoveryEvent::Detached {
        id: "x".into(),
        port: None,
    })
    .unwrap();
    assert_eq!(
        json,
        serde_json::json!({"event": "detached", "id": "x", "port": null})
    );
}
