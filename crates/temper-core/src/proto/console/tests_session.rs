//! The console driver against a scripted device: the ordinary paths, in every console dialect we meet.

use regex::Regex;

use super::fake::{config, FakeConsole, KERNEL};
use super::*;
use crate::secret::Secret;
use crate::transport::testing;

fn root_pw() -> Secret {
    Secret::new("xmhdipc")
}

/// Logs in as root and returns the session.
async fn logged_in(fake: FakeConsole) -> (ConsoleSession, tokio::task::JoinHandle<FakeConsole>) {
    let (mut session, device) = fake.session(None);
    let outcome = session
        .login("root", &root_pw())
        .await
        .expect("login should get an answer");
    assert_eq!(
        outcome,
        LoginOutcome::Accepted,
        "the factory password is right"
    );
    (session, device)
}

/// Guards: an idle console prints nothing until Enter, so waking must press Enter rather than wait.
#[tokio::test]
async fn wake_presses_enter_on_an_idle_console() {
    let (mut session, device) = FakeConsole::default().session(None);
    assert_eq!(session.state(), None);
    assert_eq!(session.wake().await.unwrap(), ConsoleState::LoginPrompt);

    let (mut session2, device2) = FakeConsole {
        start_in_shell: true,
        ..FakeConsole::default()
    }
    .session(None);
    assert_eq!(session2.wake().await.unwrap(), ConsoleState::Shell);
    drop((session, session2));
    assert!(device.await.unwrap().ran.is_empty(), "waking runs nothing");
    assert!(device2.await.unwrap().ran.is_empty());
}

/// Guards: the whole happy path with a colourful prompt (OSC title + ANSI colours) and CRLF line ends.
#[tokio::test]
async fn login_and_run_with_a_colourful_prompt() {
    let fake = FakeConsole {
        prompt: "\x1b]0;root@ipcam: ~\x07\x1b[1;32mroot@ipcam\x1b[0m:~# ".to_string(),
        greet: true,
        ..FakeConsole::default()
    };
    let (mut session, _device) = logged_in(fake).await;
    assert_eq!(session.state(), Some(ConsoleState::Shell));
    assert_eq!(session.run("cat /etc/version").await.unwrap(), "1.2.3");
    assert_eq!(
        session.run("cat /proc/cpuinfo").await.unwrap(),
        "processor\t: 0\nHardware\t: Simvision SV-IPC2100\nSerial\t\t: 00112233aabbccdd",
        "echo and prompt removed, lines joined with \\n"
    );
    assert_eq!(
        session.run("nosuch").await.unwrap(),
        "sh: nosuch: not found"
    );
}

/// Guards: LF-only and CR-only devices, with echo on and off, give the same output.
#[tokio::test]
async fn every_line_ending_and_echo_mode_gives_the_same_output() {
    for eol in ["\r\n", "\n", "\r"] {
        for echo in [true, false] {
            let fake = FakeConsole {
                eol,
                echo,
                ..FakeConsole::default()
            };
            let (mut session, _device) = logged_in(fake).await;
            let out = session.run("cat /proc/cpuinfo").await.unwrap();
            assert_eq!(out.lines().count(), 3, "eol {eol:?}, echo {echo}: {out:?}");
            assert!(
                out.starts_with("processor"),
                "eol {eol:?}, echo {echo}: the echo is not output: {out:?}"
            );
            assert_eq!(
                session.run("cat /etc/version").await.unwrap(),
                "1.2.3",
                "eol {eol:?}, echo {echo}"
            );
            assert_eq!(
                session.echo,
                Some(echo),
                "the driver learns whether the console echoes"
            );
        }
    }
}

/// Guards: kernel log lines in the middle of output and right after a prompt are not output and do not hide the
/// prompt.
#[tokio::test]
async fn kernel_lines_are_dropped_everywhere() {
    let mut fake = FakeConsole {
        kernel_after_prompt: true,
        ..FakeConsole::default()
    };
    fake.commands
        .push(("dmesg-free".to_string(), format!("before\n{KERNEL}\nafter")));
    let (mut session, _device) = logged_in(fake).await;
    assert_eq!(session.run("dmesg-free").await.unwrap(), "before\nafter");
    assert_eq!(
        session.run("dmesg-free").await.unwrap(),
        "before\nafter",
        "after a prompt + kernel line"
    );
    assert_eq!(session.run("cat /etc/version").await.unwrap(), "1.2.3");
}

/// Guards: a device that dribbles one byte at a time (login, commands and a dialog).
#[tokio::test]
async fn a_slow_device_that_dribbles_bytes_works() {
    let fake = FakeConsole {
        dribble: true,
        kernel_after_prompt: true,
        ..FakeConsole::default()
    };
    let (mut session, device) = logged_in(fake).await;
    assert_eq!(session.run("cat /etc/version").await.unwrap(), "1.2.3");
    let new = Secret::new("N3w-Passw0rd-For-Root-42x");
    let steps = passwd_steps(&new);
    let out = session
        .dialog("passwd root", &steps, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(out, "passwd: password for root changed by root");
    drop(session);
    assert!(device
        .await
        .unwrap()
        .users
        .contains(&("root".to_string(), new.expose().to_string())));
}

/// Guards: a refused login is an answer, not an error, and leaves the console at the login prompt.
#[tokio::test]
async fn a_refused_login_returns_to_the_login_prompt() {
    let (mut session, _device) = FakeConsole::default().session(None);
    let outcome = session.login("root", &Secret::new("wrong")).await.unwrap();
    assert_eq!(outcome, LoginOutcome::Refused);
    assert_eq!(session.state(), Some(ConsoleState::LoginPrompt));
    assert_eq!(
        session.login("root", &root_pw()).await.unwrap(),
        LoginOutcome::Accepted
    );
}

/// Guards: logout from a shell reaches the login prompt; login from a shell logs out first.
#[tokio::test]
async fn logout_and_login_again() {
    let (mut session, device) = logged_in(FakeConsole::default()).await;
    session.logout().await.unwrap();
    assert_eq!(session.state(), Some(ConsoleState::LoginPrompt));
    session.logout().await.unwrap(); // at the login prompt: nothing to do
    assert_eq!(
        session.login("root", &root_pw()).await.unwrap(),
        LoginOutcome::Accepted
    );
    assert_eq!(
        session.login("root", &root_pw()).await.unwrap(),
        LoginOutcome::Accepted
    );
    let err = {
        session.logout().await.unwrap();
        session.run("id").await.unwrap_err()
    };
    assert_eq!(
        err,
        ConsoleError::NotAtShell {
            action: "running `id`".to_string()
        }
    );
    drop(session);
    let ran = device.await.unwrap().ran;
    assert_eq!(
        ran,
        ["exit", "exit", "exit"],
        "one logout per shell, none at the login prompt"
    );
}

fn passwd_steps(new: &Secret) -> Vec<DialogStep> {
    vec![
        DialogStep {
            expect: Regex::new("New password: $").unwrap(),
            answer: new.clone(),
        },
        DialogStep {
            expect: Regex::new("Retype password: $").unwrap(),
            answer: new.clone(),
        },
    ]
}

/// Guards: passwd-style dialogs answer each prompt in turn and report each answer as sent.
#[tokio::test]
async fn a_dialog_answers_each_prompt() {
    let (mut session, device) = logged_in(FakeConsole::default()).await;
    let new = Secret::new("N3w-Passw0rd-For-Root-42x");
    let mut sent = Vec::new();
    let out = session
        .dialog("passwd root", &passwd_steps(&new), &mut |i| sent.push(i))
        .await
        .unwrap();
    assert_eq!(out, "passwd: password for root changed by root");
    assert_eq!(sent, [0, 1], "on_sent runs once per step, in order");
    assert_eq!(
        session.run("cat /etc/version").await.unwrap(),
        "1.2.3",
        "back at the prompt"
    );
    drop(session);
    let device = device.await.unwrap();
    assert!(device
        .users
        .contains(&("root".to_string(), new.expose().to_string())));
}

/// Guards: a dialog whose command ends before a prompt says so instead of waiting for the timeout.
#[tokio::test]
async fn a_dialog_that_ends_early_is_reported() {
    let (mut session, _device) = logged_in(FakeConsole::default()).await;
    let steps = passwd_steps(&Secret::new("whatever-secret"));
    let err = session
        .dialog("passwd nobody", &steps, &mut |_| {})
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ConsoleError::DialogEnded {
            after: "`passwd nobody`".to_string(),
            step: 0,
            expected: "New password: $".to_string(),
            output: "sh: passwd nobody: not found".to_string(),
        }
    );
    assert_eq!(session.state(), Some(ConsoleState::Shell));
}

/// Guards: a secret command line is typed, its echo checked, and only then Enter pressed.
#[tokio::test]
async fn a_secret_line_waits_for_its_echo_before_enter() {
    let (link, mut dev) = testing::pair(None);
    let mut session = ConsoleSession::new(Box::new(link), config());
    session.at = Some(ConsoleState::Shell);
    session.echo = Some(true);
    let line = Secret::new("cfgcli -s web.admin.password 'S3cret-Value-xyz'");
    let expose = line.expose().to_string();
    let device = tokio::spawn(async move {
        let typed = dev.read_until(b"'S3cret-Value-xyz'").await.unwrap();
        assert!(!typed.contains(&b'\r'), "no Enter before the echo");
        assert!(dev.take_sent().is_empty(), "nothing after the line either");
        dev.dribble(&typed).await;
        assert_eq!(
            dev.read_until(b"\r").await.unwrap(),
            b"\r",
            "Enter after the echo"
        );
        dev.push(format!(
            "\r\n[ 1.000000] eth0: link up\r\nOK {expose}\r\n# "
        ))
        .await;
        dev
    });
    let out = session.run_secret(&line).await.unwrap();
    assert_eq!(
        out,
        format!("OK {REDACTED}"),
        "the secret never comes back in output"
    );
    device.await.unwrap();
}

/// Guards: a garbled echo must never be run: Ctrl-C instead of Enter, and the error hides the line.
#[tokio::test]
async fn a_garbled_echo_presses_ctrl_c_instead_of_enter() {
    let fake = FakeConsole {
        garble: Some(b'S'),
        ..FakeConsole::default()
    };
    let (mut session, device) = logged_in(fake).await;
    let line = Secret::new("cfgcli -s web.admin.password 'NewS3cret-xyz'");
    let err = session.run_secret(&line).await.unwrap_err();
    assert_eq!(err, ConsoleError::EchoMismatch { position: 33 });
    assert!(!err.to_string().contains("NewS3cret"), "{err}");
    assert_eq!(
        session.state(),
        Some(ConsoleState::Shell),
        "Ctrl-C brought the prompt back"
    );
    assert_eq!(session.run("cat /etc/version").await.unwrap(), "1.2.3");
    drop(session);
    assert_eq!(
        device.await.unwrap().ran,
        ["cat /etc/version"],
        "the garbled line never ran"
    );
}

/// Guards: a console without echo cannot have a secret line checked, so it is not typed at all.
#[tokio::test]
async fn a_secret_line_on_a_console_without_echo_is_refused() {
    let fake = FakeConsole {
        echo: false,
        ..FakeConsole::default()
    };
    let (mut session, device) = logged_in(fake).await;
    session.run("cat /etc/version").await.unwrap();
    let err = session
        .run_secret(&Secret::new("cfgcli -s x 'y'"))
        .await
        .unwrap_err();
    assert_eq!(err, ConsoleError::NoEcho);
    drop(session);
    assert_eq!(device.await.unwrap().ran, ["cat /etc/version"]);
}

/// Guards: over a message link (BLE-like MTU), writes are split to fit and everything still works.
#[tokio::test]
async fn a_message_link_with_a_small_mtu_works() {
    let (mut session, device) = FakeConsole::default().session(Some(3));
    assert_eq!(
        session.login("root", &root_pw()).await.unwrap(),
        LoginOutcome::Accepted
    );
    assert_eq!(session.run("cat /etc/version").await.unwrap(), "1.2.3");
    let line = Secret::new("cfgcli -s rtsp.admin.password 'abc-123'");
    assert_eq!(session.run_secret(&line).await.unwrap(), "OK");
    drop(session);
    assert_eq!(device.await.unwrap().ran.len(), 2);
}

/// Guards: callers spawn console work on multi-threaded runtimes, so every operation's future must be `Send`.
#[test]
fn session_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let (link, _dev) = testing::pair(None);
    let mut session = ConsoleSession::new(Box::new(link), config());
    let secret = root_pw();
    assert_send(&session.wake());
    assert_send(&session.logout());
    assert_send(&session.login("root", &secret));
    assert_send(&session.run("id"));
    assert_send(&session.run_secret(&secret));
    let steps = passwd_steps(&secret);
    let mut on_sent = |_: usize| {};
    assert_send(&session.dialog("passwd root", &steps, &mut on_sent));
}
