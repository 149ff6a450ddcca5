//! Network services on the simulator's loopback address, checked from outside.

mod common;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;

use common::{secs, Sim, Telnet};

fn curl_code(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "5",
        ])
        .args(args)
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn telnetd_stop_and_disable_close_port_23_now_and_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let ip = "127.0.77.20";
    let mut sim = Sim::spawn(dir.path(), ip, &[]);
    let mut con = sim.console().await;
    con.wait_boot().await;
    let mut tn = Telnet::connect(ip).expect("telnet up at boot");
    assert_eq!(tn.login("root", "xmhdipc"), Some(true));

    assert!(con.login("root", "xmhdipc").await);
    let st = con.run("/etc/init.d/telnetd status").await;
    assert!(st.contains("telnetd: running, enabled"), "{st}");
    con.run("/etc/init.d/telnetd stop").await;
    assert!(
        Telnet::connect(ip).is_err(),
        "port 23 still open after stop"
    );
    assert!(tn.closed_within(secs(2)), "open session not dropped");
    con.run("/etc/init.d/telnetd disable").await;
    let st = con.run("/etc/init.d/telnetd status").await;
    assert!(st.contains("telnetd: stopped, disabled"), "{st}");
    let st = con.run("/etc/init.d/ssdpd status").await;
    assert!(st.contains("ssdpd: running, enabled"), "{st}");
    drop(con);

    sim.kill();
    let sim = Sim::spawn(dir.path(), ip, &[]);
    let mut con = sim.console().await;
    let boot = con.wait_boot().await;
    assert!(!boot.contains("Starting telnetd"), "{boot}");
    assert!(boot.contains("Starting httpd: OK"), "{boot}");
    assert!(Telnet::connect(ip).is_err(), "telnet back after restart");
    assert!(con.login("root", "xmhdipc").await);
    // A reboot also keeps it off.
    con.send("reboot\r").await;
    let out = con.wait_boot().await;
    assert!(out.contains("The system is going down NOW!"), "{out}");
    assert!(out.contains("Requesting system reboot"));
    assert!(!out.contains("Starting telnetd"));
    assert!(Telnet::connect(ip).is_err());
    let events = sim.events();
    for ev in ["service-stopped", "service-disabled"] {
        assert!(events
            .iter()
            .any(|e| e["event"] == ev && e["service"] == "telnet"));
    }
    assert!(events.iter().any(|e| e["event"] == "reboot"));
}

#[tokio::test]
async fn http_digest_with_curl_and_cfgcli_change() {
    let dir = tempfile::tempdir().unwrap();
    let ip = "127.0.77.21";
    let sim = Sim::spawn(dir.path(), ip, &[]);
    let mut con = sim.console().await;
    con.wait_boot().await;
    let url = format!("http://{ip}/");
    assert_eq!(curl_code(&["--digest", "-u", "admin:admin", &url]), "200");
    assert_eq!(curl_code(&["--digest", "-u", "admin:wrong", &url]), "401");
    assert_eq!(curl_code(&[&url]), "401");
    let xml = Command::new("curl")
        .args(["-s", &format!("http://{ip}/description.xml")])
        .output()
        .unwrap();
    let xml = String::from_utf8_lossy(&xml.stdout);
    let dt = xml.find("<deviceType>").expect("deviceType");
    let udn = xml.find("<UDN>").expect("UDN");
    assert!(dt < udn);

    assert!(con.login("root", "xmhdipc").await);
    let new = "Wq3-Zr8.Tn5_Kv2Xp7Lm4Hb6";
    let out = con
        .run(&format!("cfgcli -s web.admin.password '{new}'"))
        .await;
    assert!(out.contains("\r\nOK\r\n"), "{out:?}");
    let bad = con.run("cfgcli -s rtsp.admin.password 'has space'").await;
    assert!(bad.contains("ERR invalid value"), "{bad}");
    assert_eq!(curl_code(&["--digest", "-u", "admin:admin", &url]), "401");
    assert_eq!(
        curl_code(&["--digest", "-u", &format!("admin:{new}"), &url]),
        "200"
    );
    let events = sim.events();
    assert!(events
        .iter()
        .any(|e| e["event"] == "secret-input-begin" && e["store"] == "web-admin"));
    assert!(events
        .iter()
        .any(|e| e["event"] == "password-change-rejected" && e["store"] == "rtsp-admin"));
    assert!(events.iter().any(|e| e["event"] == "auth"
        && e["service"] == "http"
        && e["ok"] == true
        && e["password_sha256"] == common::sha256_hex(new)));
    let raw = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
    assert!(!raw.contains(new));
    let state = std::fs::read_to_string(dir.path().join("state.json")).unwrap();
    assert!(!state.contains(new) && !state.contains("xmhdipc"));
}

fn rtsp_request(s: &mut TcpStream, req: &str) -> String {
    s.write_all(req.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    loop {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "RTSP connection closed");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .map(|v| v.trim().parse::<usize>().unwrap())
                .unwrap_or(0);
            if text.len() >= end + 4 + len {
                return text;
            }
        }
    }
}

fn md5_hex(s: &str) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(s.as_bytes()))
}

fn param<'a>(header: &'a str, key: &str) -> &'a str {
    let start = header.find(&format!("{key}=\"")).expect(key) + key.len() + 2;
    let end = header[start..].find('"').unwrap() + start;
    &header[start..end]
}

#[tokio::test]
async fn rtsp_describe_with_digest() {
    let dir = tempfile::tempdir().unwrap();
    let ip = "127.0.77.22";
    let sim = Sim::spawn(dir.path(), ip, &[]);
    let mut con = sim.console().await;
    con.wait_boot().await;
    let mut s = TcpStream::connect(format!("{ip}:554")).unwrap();
    s.set_read_timeout(Some(secs(5))).unwrap();
    let uri = format!("rtsp://{ip}:554/stream1");
    let r = rtsp_request(
        &mut s,
        &format!("OPTIONS {uri} RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
    );
    assert!(r.starts_with("RTSP/1.0 200 OK"), "{r}");
    assert!(r.contains("CSeq: 1\r\n") && r.contains("Public: ") && r.contains("DESCRIBE"));
    let r = rtsp_request(
        &mut s,
        &format!("DESCRIBE {uri} RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n"),
    );
    assert!(r.starts_with("RTSP/1.0 401"), "{r}");
    assert!(r.contains("CSeq: 2\r\n"));
    let www = r
        .lines()
        .find_map(|l| l.strip_prefix("WWW-Authenticate: "))
        .expect("challenge")
        .to_string();
    assert_eq!(param(&www, "realm"), "SV-IPC2100 RTSP");
    let nonce = param(&www, "nonce").to_string();
    let describe = |pw: &str, cseq: u32| {
        let ha1 = md5_hex(&format!("admin:SV-IPC2100 RTSP:{pw}"));
        let ha2 = md5_hex(&format!("DESCRIBE:{uri}"));
        let resp = md5_hex(&format!("{ha1}:{nonce}:{ha2}"));
        format!(
            "DESCRIBE {uri} RTSP/1.0\r\nCSeq: {cseq}\r\nAuthorization: Digest username=\"admin\", realm=\"SV-IPC2100 RTSP\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{resp}\"\r\n\r\n"
        )
    };
    let r = rtsp_request(&mut s, &describe("wrong", 3));
    assert!(r.starts_with("RTSP/1.0 401"), "{r}");
    let r = rtsp_request(&mut s, &describe("12345", 4));
    assert!(r.starts_with("RTSP/1.0 200 OK"), "{r}");
    assert!(r.contains("CSeq: 4\r\n") && r.contains("application/sdp"));
    assert!(r.contains("m=video 0 RTP/AVP 96"));
    let events = sim.events();
    assert!(events
        .iter()
        .any(|e| e["event"] == "auth" && e["service"] == "rtsp" && e["ok"] == true));
    assert!(events
        .iter()
        .any(|e| e["event"] == "auth" && e["service"] == "rtsp" && e["ok"] == false));
}

#[tokio::test]
async fn ssdp_msearch_gets_a_unicast_answer() {
    let dir = tempfile::tempdir().unwrap();
    let ip = "127.0.77.23";
    let sim = Sim::spawn(dir.path(), ip, &[]);
    let mut con = sim.console().await;
    con.wait_boot().await;
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let msg = "M-SEARCH * HTTP/1.1\r\nHost:239.255.255.250:1900\r\nST:upnp:rootdevice\r\nMan:\"ssdp:discover\"\r\nMX:3\r\n\r\n";
    sock.send_to(msg.as_bytes(), format!("{ip}:1900")).unwrap();
    let mut buf = [0u8; 2048];
    let (n, from) = sock.recv_from(&mut buf).expect("SSDP answer");
    assert_eq!(from.to_string(), format!("{ip}:1900"));
    let r = String::from_utf8_lossy(&buf[..n]);
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
    for h in [
        "CACHE-CONTROL: max-age=",
        "EXT:",
        "SERVER: ",
        "BOOTID.UPNP.ORG: ",
    ] {
        assert!(r.contains(h), "{h} missing: {r}");
    }
    assert!(r.contains(&format!("LOCATION: http://{ip}/description.xml\r\n")));
    assert!(r.contains("ST: upnp:rootdevice\r\n"));
    assert!(r.contains("::upnp:rootdevice\r\n"));
    // A search for something else gets no answer.
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let other = msg.replace("upnp:rootdevice", "urn:schemas-upnp-org:device:Printer:1");
    sock.send_to(other.as_bytes(), format!("{ip}:1900"))
        .unwrap();
    assert!(sock.recv_from(&mut buf).is_err());
    assert!(sim.events().iter().any(|e| e["event"] == "ssdp-search"));
}
