//! The console driver against devices that misbehave: silence, floods, garbage, hang-ups, stale prompts.

use std::time::Duration;

use tokio::time::Instant;

use super::fake::config;
use super::*;
use crate::secret::Secret;
use crate::transport::testing::{self, DeviceSide};
use crate::transport::TransportError;

const SHORT: Duration = Duration::from_millis(300);

/// A session at the shell prompt over a bare link the test scripts; short timeouts.
fn at_shell() -> (ConsoleSession, DeviceSide) {
    let (link, dev) = testing::pair(None);
    let config = ConsoleConfig {
        command_timeout: SHORT,
        login_timeout: SHORT,
        ..config()
    };
    let mut session = ConsoleSession::new(Box::new(link), config);
    session.at = Some(ConsoleState::Shell);
    (session, dev)
}

/// A device that answers the first command line with `chunk`, forever (until the host goes away).
fn flood(mut dev: DeviceSide, chunk: Vec<u8>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        dev.read_until(b"\r").await;
        while dev.push(&chunk).await {}
    })
}

/// Guards: endless output without a prompt must not keep a command alive past its deadline, nor grow memory.
#[tokio::test]
async fn endless_output_times_out_with_bounded_memory() {
    let (mut session, dev) = at_shell();
    let device = flood(dev, b"spam spam spam spam spam spam spam\r\n".repeat(30));
    let started = Instant::now();
    let err = session.run("cat /dev/zero").await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        elapsed < SHORT * 4,
        "the deadline is absolute, output cannot extend it: {elapsed:?}"
    );
    assert!(
        session.screen.held_bytes() <= DEFAULT_CAP,
        "the buffer stays under the cap"
    );
    match &err {
        ConsoleError::Timeout {
            waited,
            after,
            last_bytes,
            ..
        } => {
            assert_eq!(waited, &Waited::ShellPrompt);
            assert_eq!(after, "`cat /dev/zero`");
            assert!(last_bytes.ends_with(r"spam\r\n"), "{last_bytes}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.starts_with("no shell prompt within 0.3 s after `cat /dev/zero`; last bytes seen: \""),
        "{text}"
    );
    assert!(
        text.contains("console.shell_prompt"),
        "the message says what to check: {text}"
    );
    assert_eq!(
        session.state(),
        None,
        "after a timeout the position is unknown"
    );
    drop(session);
    device.await.unwrap();
}

/// Guards: binary garbage (wrong baud rate, line noise, stray escapes) times out cleanly within the budget.
#[tokio::test]
async fn binary_garbage_times_out_with_bounded_memory() {
    let (mut session, dev) = at_shell();
    let garbage: Vec<u8> = (0..=255u8)
        .cycle()
        .take(4000)
        .map(|b| b.wrapping_mul(167))
        .collect();
    let device = flood(dev, garbage);
    let err = session.run("cat /etc/version").await.unwrap_err();
    assert!(
        matches!(
            err,
            ConsoleError::Timeout {
                waited: Waited::ShellPrompt,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(session.screen.held_bytes() <= DEFAULT_CAP);
    let ConsoleError::Timeout { last_bytes, .. } = &err else {
        unreachable!()
    };
    assert!(
        !last_bytes.chars().any(char::is_control),
        "last bytes are escaped: {last_bytes}"
    );
    drop(session);
    device.await.unwrap();
}

/// Guards: a command whose output overflows the buffer is an error, and the session stays usable.
#[tokio::test]
async fn output_larger_than_the_buffer_is_an_error_not_a_truncation() {
    let (mut session, mut dev) = at_shell();
    let device = tokio::spawn(async move {
        dev.read_until(b"\r").await;
        let block =
            b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n".repeat(64);
        for _ in 0..40 {
            dev.push(&block).await;
        }
        dev.push("# ").await;
        dev.read_until(b"\r").await;
        dev.push("small\r\n# ").await;
        dev
    });
    let err = session.run("dump").await.unwrap_err();
    assert_eq!(
        err,
        ConsoleError::OutputTooLarge {
            after: "`dump`".to_string(),
            limit: DEFAULT_CAP
        }
    );
    assert_eq!(
        session.run("ls").await.unwrap(),
        "small",
        "the prompt is back and the session usable"
    );
    device.await.unwrap();
}

/// Guards: a hang-up mid-command is a transport error, not a timeout.
#[tokio::test]
async fn a_closed_link_is_a_transport_error() {
    let (mut session, mut dev) = at_shell();
    tokio::spawn(async move {
        dev.read_until(b"\r").await;
        dev.push("partial output").await;
        dev.close();
    });
    let err = session.run("cat /etc/version").await.unwrap_err();
    assert_eq!(
        err,
        ConsoleError::Transport(TransportError::Closed(
            "the simulated device closed the link".to_string()
        ))
    );
    assert_eq!(session.state(), None);
}

/// Guards: a dead console is reported after a few keys (Enter, Enter, Ctrl-C), with a hint about the wiring.
#[tokio::test]
async fn a_silent_console_times_out_after_a_few_keys() {
    let (mut session, mut dev) = at_shell();
    session.at = None;
    let err = session.wake().await.unwrap_err();
    assert_eq!(dev.take_sent(), b"\r\r\x03", "two Enters then Ctrl-C");
    let text = err.to_string();
    assert!(
        text.starts_with("no login or shell prompt within 0.3 s after pressing Enter 2 times"),
        "{text}"
    );
    assert!(text.contains("wiring"), "{text}");
}

/// Guards: a password the device echoes (or any secret) never appears in an error's last bytes.
#[tokio::test]
async fn secrets_are_redacted_from_timeout_messages() {
    let (mut session, mut dev) = at_shell();
    session.at = Some(ConsoleState::LoginPrompt);
    let password = Secret::new("Pa55word-that-leaks");
    let device = tokio::spawn(async move {
        dev.read_until(b"\r").await;
        dev.push("root\r\nPassword: ").await;
        let typed = dev.read_until(b"\r").await.unwrap();
        dev.push(typed).await; // a broken device echoes the password, then hangs
        dev
    });
    let err = session.login("root", &password).await.unwrap_err();
    let text = err.to_string();
    assert!(!text.contains("Pa55word"), "{text}");
    assert!(text.contains("Password: <redacted>"), "{text}");
    assert!(
        text.starts_with(
            "no shell prompt or login failure within 0.3 s after the password for `root`"
        ),
        "{text}"
    );
    let _dev = device.await.unwrap();
}

/// Guards: a prompt left over from an earlier exchange must not end the next command early.
#[tokio::test]
async fn a_stale_prompt_does_not_end_the_next_command() {
    // The device prints an extra prompt, as some shells do after a job-control message; it arrives late.
    let (link, mut dev) = testing::pair(None);
    let mut session = ConsoleSession::new(Box::new(link), config());
    session.at = Some(ConsoleState::Shell);
    session.echo = Some(true);
    let device = tokio::spawn(async move {
        let line = dev.read_until(b"\r").await.unwrap();
        dev.push("# ").await; // stale, before the echo
        dev.dribble(&line).await;
        dev.push("\n1.2.3\r\n# ").await;
    });
    assert_eq!(session.run("cat /etc/version").await.unwrap(), "1.2.3");
    device.await.unwrap();
}

/// Guards: a console caught at the password prompt is brought back to the login prompt by wake.
#[tokio::test]
async fn wake_at_the_password_prompt_returns_to_login() {
    let (mut session, mut dev) = at_shell();
    session.at = None;
    let device = tokio::spawn(async move {
        dev.read_until(b"\r").await;
        dev.push("\r\nPassword: ").await;
        dev.read_until(b"\r").await;
        dev.push("\r\nLogin incorrect\r\nipcam login: ").await;
        dev
    });
    assert_eq!(session.wake().await.unwrap(), ConsoleState::LoginPrompt);
    device.await.unwrap();
}
