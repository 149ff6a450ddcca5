//! Outside checks against tiny in-test servers on 127.0.88.x addresses (one address per test, so parallel tests
//! never see each other's listeners). No simulator is used.
//! Tests live in `mod checks` so that `cargo test -p temper-core checks` selects them.

mod checks {
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use regex::Regex;
    use sha2::Digest;
    use temper_core::checks::digest::parse_challenges;
    use temper_core::checks::*;
    use temper_core::Secret;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream, UdpSocket};

    /// A loopback address no test binds: ports open there are the host's.
    const CONTROL: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 254, 254, 254));

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, 88, last))
    }

    async fn open_on_control(port: u16) -> bool {
        TcpStream::connect((CONTROL, port)).await.is_ok()
    }

    /// Answers every M-SEARCH on `ip:1900` with a mixed-case SSDP answer.
    async fn ssdp_responder(ip: IpAddr) -> tokio::task::JoinHandle<()> {
        let socket = UdpSocket::bind((ip, 1900))
            .await
            .expect("bind SSDP responder (tests run as root)");
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            while let Ok((n, from)) = socket.recv_from(&mut buf).await {
                if String::from_utf8_lossy(&buf[..n]).contains("\"ssdp:discover\"") {
                    let answer = "HTTP/1.1 200 OK\r\nCache-Control: max-age=1800\r\nExt:\r\n\
                    Location: http://127.0.88.4:49152/desc.xml\r\nserver: Linux/4.9 UPnP/1.1 SV-IPC2100/2.1.0\r\n\
                    st: upnp:rootdevice\r\nUSN: uuid:cafe::upnp:rootdevice\r\n\r\n";
                    let _ = socket.send_to(answer.as_bytes(), from).await;
                }
            }
        })
    }

    /// Guards: the surface names exactly the device's listeners and moves host ports (0.0.0.0) to `excluded_tcp`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn attack_surface_finds_the_test_listeners_and_excludes_host_ports() {
        let mut listeners = Vec::new();
        for _ in 0..3 {
            listeners.push(TcpListener::bind((ip(1), 0)).await.unwrap());
        }
        let mut expected: Vec<u16> = listeners
            .iter()
            .map(|l| l.local_addr().unwrap().port())
            .collect();
        expected.sort_unstable();
        // A host service seen on every loopback address, simulated on the device and control addresses only (a
        // real 0.0.0.0 listener would leak into the other tests' scans).
        let host_on_device = TcpListener::bind((ip(1), 0)).await.unwrap();
        let host_port = host_on_device.local_addr().unwrap().port();
        let _host_on_control = TcpListener::bind((CONTROL, host_port)).await.unwrap();
        let _ssdp = ssdp_responder(ip(1)).await;

        let mut calls = 0u64;
        let surface = attack_surface(ip(1), CONTROL, &[], &mut |_, _| calls += 1).await;

        assert_eq!(
            surface.tcp_open, expected,
            "exactly the listeners bound on the device address count"
        );
        assert!(
            surface.excluded_tcp.contains(&host_port),
            "a 0.0.0.0 listener is the host's: {surface:?}"
        );
        if open_on_control(2024).await {
            assert!(
                surface.excluded_tcp.contains(&2024),
                "the host service on 2024 must be excluded"
            );
        }
        assert!(surface
            .exclusion_note()
            .unwrap()
            .contains(&host_port.to_string()));
        assert!(
            matches!(surface.udp_state(1900), Some(UdpState::Open { protocol, .. }) if protocol == "ssdp")
        );
        assert_eq!(
            surface.udp_state(69),
            Some(&UdpState::Closed),
            "nothing listens on UDP 69 at 127.0.88.1"
        );
        assert!(
            surface.ssdp.is_some(),
            "the SSDP responder answers the unicast search"
        );
        assert!(
            calls > 0 && calls < 200,
            "progress is reported now and then, not per port ({calls} calls)"
        );
        let json = serde_json::to_string(&surface).unwrap();
        let back: Surface = serde_json::from_str(&json).unwrap();
        assert_eq!(
            back, surface,
            "the surface is stored as the baseline, so it must round-trip"
        );
    }

    /// Guards: a full 1–65535 connect scan completes and finds every listener; anything else is the host's.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn full_connect_scan_finds_exactly_the_open_ports() {
        let a = TcpListener::bind((ip(2), 0)).await.unwrap();
        let b = TcpListener::bind((ip(2), 65535)).await.unwrap();
        let mine = [
            a.local_addr().unwrap().port(),
            b.local_addr().unwrap().port(),
        ];
        let mut last = (0, 0);
        let found = tcp_connect_scan(ip(2), 1..=65535, 512, &mut |done, total| {
            last = (done, total)
        })
        .await;
        assert_eq!(
            last,
            (65535, 65535),
            "the last progress report says the scan is complete"
        );
        for port in mine {
            assert!(
                found.contains(&port),
                "listener {port} must be found in {found:?}"
            );
        }
        for &port in found.iter().filter(|p| !mine.contains(p)) {
            // Another process's 0.0.0.0 listener may have closed since the scan; then it is gone from both.
            let gone = TcpStream::connect((ip(2), port)).await.is_err();
            assert!(
                open_on_control(port).await || gone,
                "port {port} is neither the test's nor the host's"
            );
        }
        assert!(
            found.windows(2).all(|w| w[0] < w[1]),
            "ports come back sorted"
        );
    }

    /// Guards: closed (ICMP unreachable), silent and protocol replies are three different states.
    #[tokio::test]
    async fn udp_probe_tells_closed_silent_and_open_apart() {
        assert_eq!(
            udp_probe(ip(3), 69, Duration::from_secs(1)).await,
            UdpState::Closed
        );
        let _silent = UdpSocket::bind((ip(3), 5683)).await.unwrap();
        assert_eq!(
            udp_probe(ip(3), 5683, Duration::from_millis(400)).await,
            UdpState::NoReply
        );

        let _ssdp = ssdp_responder(ip(4)).await;
        match udp_probe(ip(4), 1900, Duration::from_secs(1)).await {
            UdpState::Open { protocol, detail } => {
                assert_eq!(protocol, "ssdp");
                assert!(
                    detail.contains("SV-IPC2100"),
                    "the SERVER header is reported: {detail}"
                );
            }
            other => panic!("an SSDP responder must be Open, got {other:?}"),
        }
        let answer = ssdp_unicast_search(ip(4), Duration::from_secs(1))
            .await
            .expect("an answer");
        assert_eq!(answer.st.as_deref(), Some("upnp:rootdevice"));
        assert_eq!(answer.usn.as_deref(), Some("uuid:cafe::upnp:rootdevice"));
        assert_eq!(
            answer.server.as_deref(),
            Some("Linux/4.9 UPnP/1.1 SV-IPC2100/2.1.0")
        );
        assert_eq!(
            answer.location.as_deref(),
            Some("http://127.0.88.4:49152/desc.xml")
        );
    }

    /// Guards: a reply that does not parse as the port's protocol does not make the port "open".
    #[tokio::test]
    async fn a_reply_in_the_wrong_protocol_is_not_open() {
        let socket = UdpSocket::bind((ip(4), 5353)).await.unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((_, from)) = socket.recv_from(&mut buf).await {
                let _ = socket.send_to(b"hello, not DNS", from).await;
            }
        });
        assert_eq!(
            udp_probe(ip(4), 5353, Duration::from_millis(400)).await,
            UdpState::NoReply
        );
    }

    /// What an in-test server saw.
    #[derive(Default)]
    struct Seen {
        requests: AtomicUsize,
        with_authorization: AtomicBool,
    }

    fn digest_hex(algorithm: &str, data: &str) -> String {
        match algorithm {
            "SHA-256" => hex::encode(sha2::Sha256::digest(data.as_bytes())),
            _ => hex::encode(md5::Md5::digest(data.as_bytes())),
        }
    }

    /// A tiny HTTP or RTSP server: 401 with `challenge` until a correct Digest answer for `user`/`password` comes.
    /// It verifies the answer with its own hashing (md-5/sha2 directly), not Temper's.
    async fn digest_server(
        addr: SocketAddr,
        rtsp: bool,
        challenge: &'static str,
        algorithm: &'static str,
    ) -> (SocketAddr, Arc<Seen>) {
        let listener = TcpListener::bind(addr).await.unwrap();
        let local = listener.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let seen2 = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let seen = seen2.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    loop {
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            match stream.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                        buf.drain(..end);
                        seen.requests.fetch_add(1, Ordering::SeqCst);
                        let mut words = head.split_whitespace();
                        let (method, uri) = (
                            words.next().unwrap().to_string(),
                            words.next().unwrap().to_string(),
                        );
                        let header = |name: &str| {
                            head.lines().find_map(|l| {
                                l.split_once(':')
                                    .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                                    .map(|(_, v)| v.trim().to_string())
                            })
                        };
                        let cseq = header("cseq")
                            .map(|c| format!("CSeq: {c}\r\n"))
                            .unwrap_or_default();
                        let ok = header("authorization").is_some_and(|a| {
                            seen.with_authorization.store(true, Ordering::SeqCst);
                            let p = parse_challenges(&a).remove(0);
                            let get = |n: &str| p.param(n).unwrap_or("").to_string();
                            let ha1 =
                                digest_hex(algorithm, &format!("admin:cam:{}", "s3cret-Pass"));
                            let ha2 = digest_hex(algorithm, &format!("{method}:{}", get("uri")));
                            let expected = if get("qop").is_empty() {
                                digest_hex(algorithm, &format!("{ha1}:n0nce:{ha2}"))
                            } else {
                                digest_hex(
                                    algorithm,
                                    &format!(
                                        "{ha1}:n0nce:{}:{}:auth:{ha2}",
                                        get("nc"),
                                        get("cnonce")
                                    ),
                                )
                            };
                            get("username") == "admin"
                                && get("uri") == uri
                                && get("response") == expected
                                && (get("qop").is_empty() || get("opaque") == "op42")
                        });
                        let (proto, body) = if rtsp {
                            ("RTSP/1.0", "v=0\r\n")
                        } else {
                            ("HTTP/1.1", "welcome")
                        };
                        let reply = if uri.ends_with("/public") || ok {
                            format!(
                                "{proto} 200 OK\r\n{cseq}Content-Length: {}\r\n\r\n{body}",
                                body.len()
                            )
                        } else if rtsp {
                            format!("{proto} 401 Unauthorized\r\n{cseq}WWW-Authenticate: {challenge}\r\nContent-Length: 0\r\n\r\n")
                        } else {
                            format!("{proto} 401 Unauthorized\r\nWWW-Authenticate: {challenge}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nnope!\r\n0\r\n\r\n")
                        };
                        if stream.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (local, seen)
    }

    /// Guards: HTTP Digest accepts exactly the right password (MD5 and SHA-256) and refuses others.
    #[tokio::test]
    async fn http_digest_login_accepts_only_the_right_password() {
        let md5 = r#"Digest realm="cam", qop="auth", nonce="n0nce", opaque="op42", algorithm=MD5"#;
        let sha =
            r#"Digest realm="cam", qop="auth", nonce="n0nce", opaque="op42", algorithm=SHA-256"#;
        for (challenge, algorithm) in [(md5, "MD5"), (sha, "SHA-256")] {
            let (addr, seen) =
                digest_server(SocketAddr::new(ip(5), 0), false, challenge, algorithm).await;
            let right = http_digest_login(addr, "/", "admin", &Secret::new("s3cret-Pass")).await;
            assert_eq!(right, Ok(AuthOutcome::Accepted), "{algorithm}");
            let wrong = http_digest_login(addr, "/", "admin", &Secret::new("admin")).await;
            assert_eq!(wrong, Ok(AuthOutcome::Refused), "{algorithm}");
            assert_eq!(
                seen.requests.load(Ordering::SeqCst),
                4,
                "one challenge and one answer per login"
            );
            let open = http_digest_login(addr, "/public", "admin", &Secret::new("x")).await;
            assert!(
                matches!(open, Err(CheckError::Unauthenticated { .. })),
                "{open:?}"
            );
        }
        let closed = http_digest_login(SocketAddr::new(ip(5), 1), "/", "admin", &Secret::new("x"))
            .await
            .unwrap_err();
        assert!(
            closed.to_string().contains("127.0.88.5:1"),
            "errors name host:port: {closed}"
        );
    }

    /// Guards: a Basic-only service gets no credential at all, not even in a first try.
    #[tokio::test]
    async fn basic_only_service_is_refused_without_sending_the_password() {
        let (addr, seen) = digest_server(
            SocketAddr::new(ip(6), 0),
            false,
            r#"Basic realm="cam""#,
            "MD5",
        )
        .await;
        let result = http_digest_login(addr, "/", "admin", &Secret::new("s3cret-Pass")).await;
        match result {
            Err(e @ CheckError::Cleartext { .. }) => {
                assert!(
                    e.to_string()
                        .contains("refusing to send a credential in cleartext (Basic auth)"),
                    "{e}"
                )
            }
            other => panic!("expected a cleartext refusal, got {other:?}"),
        }
        assert_eq!(
            seen.requests.load(Ordering::SeqCst),
            1,
            "only the unauthenticated GET was sent"
        );
        assert!(
            !seen.with_authorization.load(Ordering::SeqCst),
            "the server must never see an Authorization header"
        );
    }

    /// Guards: RTSP Digest hashes DESCRIBE and the full rtsp:// request-URI, and CSeq is carried.
    #[tokio::test]
    async fn rtsp_digest_login_uses_describe_and_the_request_uri() {
        let challenge = r#"Digest realm="cam", nonce="n0nce""#;
        let (addr, _) = digest_server(SocketAddr::new(ip(7), 0), true, challenge, "MD5").await;
        let right = rtsp_digest_login(addr, "/stream1", "admin", &Secret::new("s3cret-Pass")).await;
        assert_eq!(right, Ok(AuthOutcome::Accepted));
        let wrong = rtsp_digest_login(addr, "/stream1", "admin", &Secret::new("12345")).await;
        assert_eq!(wrong, Ok(AuthOutcome::Refused));
    }

    /// A telnet server: IAC WILL ECHO and IAC DO NAWS, then login/password prompts; root/xmhdipc gets a shell.
    async fn telnet_server(addr: SocketAddr, negotiation: Arc<Mutex<Vec<u8>>>) -> SocketAddr {
        let listener = TcpListener::bind(addr).await.unwrap();
        let local = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let negotiation = negotiation.clone();
                tokio::spawn(async move {
                    let _ = s
                        .write_all(
                            b"\xff\xfb\x01\xff\xfd\x1fSimvision IPC \xff\xff\r\nipcam login: ",
                        )
                        .await;
                    let mut lines = Vec::new();
                    let (mut data, mut byte, mut iac) = (Vec::new(), [0u8; 1], Vec::new());
                    while lines.len() < 2 {
                        if s.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        match (iac.len(), byte[0]) {
                            (0, 255) => iac.push(255),
                            (1 | 2, b) => {
                                iac.push(b);
                                if iac.len() == 3 {
                                    negotiation.lock().unwrap().extend(iac.drain(..));
                                }
                            }
                            (_, b'\n') => {
                                lines.push(String::from_utf8_lossy(&data).trim().to_string());
                                data.clear();
                                if lines.len() == 1 {
                                    let _ = s.write_all(b"Password: ").await;
                                }
                            }
                            (_, b) => data.push(b),
                        }
                    }
                    let reply: &[u8] = if lines == ["root", "xmhdipc"] {
                        b"\r\n\r\nBusyBox v1.31\r\n# "
                    } else {
                        b"\r\nLogin incorrect\r\nipcam login: "
                    };
                    let _ = s.write_all(reply).await;
                    let _ = s.read(&mut byte).await;
                });
            }
        });
        local
    }

    /// Guards: telnet negotiation is refused per RFC 854 and the verdict comes from the shell prompt.
    #[tokio::test]
    async fn telnet_login_negotiates_and_tells_shell_from_failure() {
        let negotiation = Arc::new(Mutex::new(Vec::new()));
        let addr = telnet_server(SocketAddr::new(ip(8), 0), negotiation.clone()).await;
        let re = |p: &str| Regex::new(p).unwrap();
        let (login, password, shell, failed) = (
            re("(?m)login: $"),
            re("Password: $"),
            re("(?m)[#$] $"),
            re("Login incorrect"),
        );
        let right = telnet_login(
            addr,
            "root",
            &Secret::new("xmhdipc"),
            &login,
            &password,
            &shell,
            &failed,
        )
        .await;
        assert_eq!(right, Ok(AuthOutcome::Accepted));
        let wrong = telnet_login(
            addr,
            "root",
            &Secret::new("vizxv"),
            &login,
            &password,
            &shell,
            &failed,
        )
        .await;
        assert_eq!(wrong, Ok(AuthOutcome::Refused));
        let seen = negotiation.lock().unwrap().clone();
        assert_eq!(
            seen,
            [[255, 254, 1, 255, 252, 31]; 2].concat(),
            "DONT ECHO and WONT NAWS, once per connection"
        );
    }

    /// Guards: the check futures can run on a multi-threaded runtime (plan steps spawn them).
    #[test]
    fn check_futures_are_send() {
        fn send<T: Send>(_: T) {}
        let addr = SocketAddr::new(ip(10), 1);
        let password = Secret::new("x");
        let re = Regex::new("x").unwrap();
        send(attack_surface(ip(10), CONTROL, &[], &mut |_, _| {}));
        send(http_digest_login(addr, "/", "u", &password));
        send(rtsp_digest_login(addr, "/", "u", &password));
        send(telnet_login(addr, "u", &password, &re, &re, &re, &re));
        send(udp_probe(ip(10), 1, Duration::from_millis(1)));
        send(try_all(
            |_, p: Secret| async move { http_digest_login(addr, "/", "u", &p).await },
            Vec::new(),
            2,
        ));
    }
}
