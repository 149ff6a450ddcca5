//! BusyBox shell commands of the camera.

use serde_json::json;

use super::console::{Action, Mode, Session};
use super::Service;
use crate::state::Credential;
use crate::timing;

/// Login accounts with a password store; system accounts have none.
const LOGIN_USERS: &[&str] = &["root", "support"];
const SYSTEM_USERS: &[&str] = &["daemon", "nobody"];

/// Why the device refuses a new password, if it does (same rule in every store).
pub fn password_problem(pw: &str) -> Option<&'static str> {
    let n = pw.chars().count();
    if n < 8 {
        Some("too short")
    } else if n > 64 {
        Some("too long")
    } else if pw
        .chars()
        .any(|c| matches!(c, ' ' | '\'' | '"' | '\\') || c.is_control() || !c.is_ascii())
    {
        Some("invalid character")
    } else {
        None
    }
}

/// A command line the shell cannot parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unterminated quoted string")]
pub struct UnterminatedQuote;

/// Split a command line into words: whitespace separated, '...' and "..." quoting, \ escapes
/// outside single quotes.
pub fn split_words(line: &str) -> Result<Vec<String>, UnterminatedQuote> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => return Err(UnterminatedQuote),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => cur.push(chars.next().ok_or(UnterminatedQuote)?),
                        Some(x) => cur.push(x),
                        None => return Err(UnterminatedQuote),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(x) = chars.next() {
                    cur.push(x);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

const KNOWN: &[&str] = &[
    "cat", "ip", "passwd", "cfgcli", "reboot", "exit", "logout", "echo", "uptime", "true", "date",
    "certtool", "ls",
];

/// Run one shell line for `user`; the session is in shell mode on entry.
pub async fn run_line(s: &mut Session, user: &str, line: &str) -> Action {
    let Ok(words) = split_words(line) else {
        s.emit_line("-sh: syntax error: unterminated quoted string");
        s.prompt();
        return Action::None;
    };
    let Some(cmd) = words.first().cloned() else {
        s.prompt();
        return Action::None;
    };
    let service = cmd
        .strip_prefix("/etc/init.d/")
        .and_then(Service::from_daemon);
    // Log the program name only; an unknown word could be a mistyped secret.
    let name = if KNOWN.contains(&cmd.as_str()) || service.is_some() {
        cmd.as_str()
    } else {
        "<unknown>"
    };
    s.dev.events.log(
        "command",
        json!({"name": name, "user": user, "channel": s.chan.id()}),
    );
    let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
    if cmd == "cfgcli" {
        s.pause(timing::CFGCLI_MS, "cfgcli").await;
    } else {
        s.pause(timing::COMMAND_MS, "command").await;
    }
    if let Some(svc) = service {
        super::admin::init_script(s, svc, &args).await;
        s.prompt();
        return Action::None;
    }
    let out: Vec<String> = match cmd.as_str() {
        "true" => vec![],
        "echo" => vec![args.join(" ")],
        "uptime" => {
            let up = s.dev.uptime().as_secs();
            vec![format!(
                " {:02}:{:02}:{:02} up {} min,  load average: 0.08, 0.03, 0.01",
                (up / 3600) % 24,
                (up / 60) % 60,
                up % 60,
                up / 60
            )]
        }
        "cat" => cat(s, &args),
        "ls" => ls(&args),
        "date" => super::clock::date(s, user, &args),
        "certtool" => super::certtool::command(s, user, &args).await,
        "ip" => ip(s, &args),
        "cfgcli" => super::admin::cfgcli(s, &args).await,
        "exit" | "logout" => {
            if s.chan == super::console::Channel::Telnet {
                return Action::Close;
            }
            s.reset();
            s.emit("\r\n");
            s.prompt();
            return Action::None;
        }
        "reboot" => return Action::Reboot,
        "passwd" => {
            if let Some(next) = passwd(s, user, &args) {
                s.mode = next;
            }
            s.prompt();
            return Action::None;
        }
        other => vec![format!("-sh: {other}: not found")],
    };
    s.emit_output(&out);
    s.prompt();
    Action::None
}

fn cat(s: &mut Session, args: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for f in args {
        match *f {
            "/proc/cpuinfo" => {
                out.extend(
                    [
                        "processor\t: 0",
                        "model name\t: ARMv7 Processor rev 5 (v7l)",
                        "BogoMIPS\t: 1196.85",
                        "Features\t: swp half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm",
                        "CPU implementer\t: 0x41",
                        "CPU architecture: 7",
                        "CPU variant\t: 0x0",
                        "CPU part\t: 0xc07",
                        "CPU revision\t: 5",
                        "",
                        &format!("Hardware\t: Simvision {}", s.dev.variant().model),
                        "Revision\t: 0000",
                    ]
                    .iter()
                    .map(|l| l.to_string()),
                );
                out.push(format!("Serial\t\t: {}", s.dev.serial()));
            }
            "/etc/version" => out.push(s.dev.variant().firmware.to_string()),
            "/etc/hostname" => out.push(super::HOSTNAME.to_string()),
            "/etc/passwd" => out.extend(
                [
                    "root:x:0:0:root:/root:/bin/sh",
                    "daemon:x:1:1:daemon:/usr/sbin:/bin/false",
                    "support:x:1000:1000:support:/home/support:/bin/sh",
                    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false",
                ]
                .iter()
                .map(|l| l.to_string()),
            ),
            "/etc/shadow" => out.extend(shadow(s)),
            other => out.push(format!(
                "cat: can't open '{other}': No such file or directory"
            )),
        }
    }
    out
}

/// `ls`: only the init scripts are worth listing.
fn ls(args: &[&str]) -> Vec<String> {
    match args {
        ["/etc/init.d" | "/etc/init.d/"] => {
            let mut names: Vec<&str> = Service::ALL.iter().map(|s| s.daemon()).collect();
            names.sort_unstable();
            vec![names.join("  ")]
        }
        [] | ["/"] => vec![
            "bin   dev   etc   home  lib   mnt   proc  root  sbin  sys   tmp   usr   var".into(),
        ],
        [other, ..] => vec![format!("ls: {other}: No such file or directory")],
    }
}

fn shadow(s: &Session) -> Vec<String> {
    s.dev.with_state(|st| {
        let entry = |user: &str| -> String {
            let hash = match st.credentials.get(&format!("shell-{user}")) {
                Some(Credential::SaltedSha256 { salt, hash }) => format!("$5${salt}${hash}"),
                _ => "*".to_string(),
            };
            let lock = if st.locked.contains(user) { "!" } else { "" };
            format!("{user}:{lock}{hash}:17967:0:99999:7:::")
        };
        vec![
            entry("root"),
            "daemon:*:17967:0:99999:7:::".to_string(),
            entry("support"),
            "nobody:*:17967:0:99999:7:::".to_string(),
        ]
    })
}

fn ip(s: &Session, args: &[&str]) -> Vec<String> {
    let eth0 = vec![
        "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast qlen 1000"
            .to_string(),
        format!(
            "    link/ether {} brd ff:ff:ff:ff:ff:ff",
            mac(&s.dev.serial())
        ),
        format!("    inet {}/8 scope global eth0", s.dev.ip),
        "       valid_lft forever preferred_lft forever".to_string(),
    ];
    let lo = vec![
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue qlen 1".to_string(),
        "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00".to_string(),
        "    inet 127.0.0.1/8 scope host lo".to_string(),
        "       valid_lft forever preferred_lft forever".to_string(),
    ];
    match args {
        ["addr"] | ["a"] | ["addr", "show"] | ["a", "show"] => [lo, eth0].concat(),
        ["addr", "show", "eth0"] | ["a", "show", "eth0"] | ["addr", "show", "dev", "eth0"] => eth0,
        ["addr", "show", "lo"] | ["a", "show", "lo"] => lo,
        ["addr", "show", dev] | ["a", "show", dev] => {
            vec![format!("ip: can't find device '{dev}'")]
        }
        _ => vec![
            "BusyBox v1.24.1 multi-call binary.".into(),
            "".into(),
            "Usage: ip [OPTIONS] address|route|link|tunnel|neigh|rule [COMMAND]".into(),
        ],
    }
}

fn mac(serial: &str) -> String {
    let b = hex::decode(serial).unwrap_or_else(|_| vec![0; 8]);
    format!(
        "00:12:41:{:02x}:{:02x}:{:02x}",
        b.get(5).copied().unwrap_or(0),
        b.get(6).copied().unwrap_or(0),
        b.get(7).copied().unwrap_or(0)
    )
}

/// `passwd [-l|-u] [user]`; returns the next mode when a password dialog starts.
fn passwd(s: &mut Session, user: &str, args: &[&str]) -> Option<Mode> {
    let (flag, target) = match args {
        [] => (None, user),
        [t] if !t.starts_with('-') => (None, *t),
        [f @ ("-l" | "-u")] => (Some(*f), user),
        [f @ ("-l" | "-u"), t] => (Some(*f), *t),
        _ => {
            s.emit_line("Usage: passwd [OPTIONS] [USER]");
            return None;
        }
    };
    if user != "root" && (target != user || flag.is_some()) {
        s.emit_line(&format!(
            "passwd: {user} can't change password for {target}"
        ));
        return None;
    }
    if !LOGIN_USERS.contains(&target) {
        if SYSTEM_USERS.contains(&target) {
            s.emit_line(&format!("passwd: {target} has no password to change"));
        } else {
            s.emit_line(&format!("passwd: unknown user {target}"));
        }
        return None;
    }
    match flag {
        Some(f) => {
            let lock = f == "-l";
            let res = s.dev.update_state(|st| {
                if lock {
                    st.locked.insert(target.to_string());
                } else {
                    st.locked.remove(target);
                }
            });
            if let Err(e) = res {
                tracing::error!("{e}");
                s.emit_line(&format!("passwd: password for {target} is unchanged"));
                return None;
            }
            let ev = if lock {
                "account-locked"
            } else {
                "account-unlocked"
            };
            s.dev.events.log(ev, json!({"user": target}));
            s.emit_line(&format!("passwd: password for {target} changed by {user}"));
            None
        }
        None => {
            s.emit_line(&format!("Changing password for {target}"));
            Some(Mode::NewPassword {
                user: user.to_string(),
                target: target.to_string(),
            })
        }
    }
}

/// Second half of the passwd dialog, after `Retype password: `.
pub async fn finish_passwd(s: &mut Session, target: &str, first: &str, second: &str) {
    let store = format!("shell-{target}");
    let by = match &s.mode {
        Mode::Shell { user } => user.clone(),
        _ => "root".to_string(),
    };
    if first != second {
        s.dev.events.log(
            "password-change-rejected",
            json!({"store": store, "reason": "mismatch"}),
        );
        s.emit_line("Passwords don't match");
        s.emit_line(&format!("passwd: password for {target} is unchanged"));
        return;
    }
    if let Some(reason) = password_problem(first) {
        s.dev.events.log(
            "password-change-rejected",
            json!({"store": store, "reason": reason}),
        );
        s.emit_line(&format!("Bad password: {reason}"));
        s.emit_line(&format!("passwd: password for {target} is unchanged"));
        return;
    }
    s.pause(timing::PASSWD_OK_MS, "passwd-ok").await;
    let cred = Credential::salted(first);
    if let Err(e) = s.dev.update_state(|st| {
        st.credentials.insert(store.clone(), cred);
    }) {
        tracing::error!("{e}");
        s.emit_line(&format!("passwd: password for {target} is unchanged"));
        return;
    }
    s.dev
        .events
        .log("password-changed", json!({"store": store}));
    s.emit_line(&format!("passwd: password for {target} changed by {by}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_quotes() {
        assert_eq!(
            split_words("cfgcli -s web.admin.password 'Ab3-x y'").unwrap(),
            vec!["cfgcli", "-s", "web.admin.password", "Ab3-x y"]
        );
        assert_eq!(
            split_words("echo \"a b\" c").unwrap(),
            vec!["echo", "a b", "c"]
        );
        assert_eq!(split_words("echo 'open"), Err(UnterminatedQuote));
        assert!(split_words("   ").unwrap().is_empty());
    }

    #[test]
    fn password_rules() {
        assert_eq!(password_problem("short"), Some("too short"));
        assert_eq!(password_problem(&"a".repeat(65)), Some("too long"));
        assert_eq!(password_problem("has space1"), Some("invalid character"));
        assert_eq!(password_problem("quote'quote"), Some("invalid character"));
        assert_eq!(password_problem("back\\slash1"), Some("invalid character"));
        assert_eq!(password_problem("Kq7-vXp2.MzR4tW9_bNc8Hj3"), None);
    }
}
