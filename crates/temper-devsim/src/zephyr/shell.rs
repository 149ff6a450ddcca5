//! The sensor's Zephyr shell: one command interpreter behind both the shell management group (9/0 exec) and
//! the telnet backend ([`super::net::telnet`]).
//!
//! Commands: `help`, `app info`, `net iface`, `kernel version`, `cert genkey|csr` ([`super::cert`]), `cred
//! ...` ([`super::cred`]), `mqtt connect|status` ([`super::mqtt`]). Zephyr's wording for the shell's own
//! errors: `<cmd>: command not found` (ret -8, ENOEXEC), `<cmd>: unknown parameter: <arg>` (-8), `<cmd>:
//! wrong parameter count` (-22); a command with subcommands and none given prints its help (ret 1).
//! Output lines end in "\n" (the telnet backend sends "\r\n").
//!
//! Exec (9/0 write `{"argv": [..]}` → `{"o", "ret"}`) joins `argv` with spaces into one command line and
//! splits it again, as Zephyr's `shell_mgmt` does (an argument holding a space becomes two). A line of
//! [`CMD_BUFF_SIZE`] bytes or more → shell group error COMMAND_TOO_LONG (2, v1 `{"rc": 3}`); an empty `argv`
//! → EMPTY_COMMAND (3, v1 3); a reply that does not fit one net buffer → `{"rc": 7}` (EMSGSIZE).

use ciborium::Value;
use serde_json::json;
use temper_core::proto::smp::header::{Header, Op};

use super::cbor::{encode, Map};
use super::mqtt::Job;
use super::smp::{group_err, rc_body, Server, RC_EINVAL};
use super::{lock, Shared};
use crate::ipcam::shell::split_words;

/// The shell management group.
pub const GROUP_SHELL: u16 = 9;
/// CONFIG_SHELL_CMD_BUFF_SIZE: a command line is shorter.
pub const CMD_BUFF_SIZE: usize = 256;
/// MGMT_ERR_EMSGSIZE.
const RC_EMSGSIZE: u64 = 7;
/// SHELL_MGMT_RET_RC_*.
const SHELL_ERR_COMMAND_TOO_LONG: u64 = 2;
const SHELL_ERR_EMPTY_COMMAND: u64 = 3;

/// errno values the commands return (negated), as Zephyr's do.
pub(crate) const ENOENT: i32 = 2;
pub(crate) const EIO: i32 = 5;
pub(crate) const ENOEXEC: i32 = 8;
pub(crate) const ENOMEM: i32 = 12;
pub(crate) const EEXIST: i32 = 17;
pub(crate) const EINVAL: i32 = 22;
/// SHELL_CMD_HELP_PRINTED.
const HELP_PRINTED: i32 = 1;

/// What a command printed and returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Lines, each ending in "\n".
    pub text: String,
    pub ret: i32,
}

impl Output {
    /// `lines` and ret 0.
    pub fn ok<S: AsRef<str>>(lines: impl IntoIterator<Item = S>) -> Output {
        Output::lines(lines, 0)
    }

    /// One line and ret `-errno`.
    pub fn err(line: impl Into<String>, errno: i32) -> Output {
        Output::lines([line.into()], -errno)
    }

    pub fn lines<S: AsRef<str>>(lines: impl IntoIterator<Item = S>, ret: i32) -> Output {
        let mut text = String::new();
        for l in lines {
            text.push_str(l.as_ref());
            text.push('\n');
        }
        Output { text, ret }
    }
}

/// A command's result: done, or an MQTT connection to make without holding the server lock.
pub(crate) enum Exec {
    Done(Output),
    Mqtt(Job),
}

/// The top-level commands and their help.
const COMMANDS: &[(&str, &str)] = &[
    ("app", "Application commands"),
    ("cert", "Device key and certificate requests"),
    ("cred", "TLS Credentials Commands"),
    ("help", "Prints the help message."),
    ("kernel", "Kernel commands"),
    ("mqtt", "MQTT over TLS client"),
    ("net", "Networking commands"),
];

/// Runs one command (`argv[0]` the command) on the device.
pub(crate) fn exec(server: &mut Server, argv: &[String]) -> Exec {
    let args: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = match args.as_slice() {
        [] => Output::ok(Vec::<String>::new()),
        ["help", ..] => help(),
        ["app", rest @ ..] => sub(
            "app",
            rest,
            &[("info", "Model, serial and firmware version")],
            |_| {
                Output::ok([
                    format!("model: {}", server.app.variant.model_name()),
                    format!("serial: {}", server.state.serial),
                    format!("firmware: {}", firmware(server)),
                ])
            },
        ),
        ["kernel", rest @ ..] => sub("kernel", rest, &[("version", "Kernel version")], |_| {
            Output::ok(["Zephyr version 3.7.0"])
        }),
        ["net", rest @ ..] => sub("net", rest, &[("iface", "List interfaces")], |_| {
            net_iface(server)
        }),
        ["cert", rest @ ..] => super::cert::command(server, rest),
        ["cred", rest @ ..] => super::cred::command(server, rest),
        ["mqtt", rest @ ..] => return super::mqtt::command(server, rest),
        [cmd, ..] => Output::err(format!("{cmd}: command not found"), ENOEXEC),
    };
    Exec::Done(out)
}

/// A command with one level of subcommands, each taking no argument: runs `run(subcommand)`.
pub(crate) fn sub(
    cmd: &str,
    rest: &[&str],
    subs: &[(&str, &str)],
    run: impl FnOnce(&str) -> Output,
) -> Output {
    match rest {
        [] | ["-h" | "--help"] => sub_help(cmd, subs),
        [s] if subs.iter().any(|(n, _)| n == s) => run(s),
        [s, ..] if subs.iter().any(|(n, _)| n == s) => {
            Output::err(format!("{s}: wrong parameter count"), EINVAL)
        }
        [other, ..] => Output::err(format!("{cmd}: unknown parameter: {other}"), ENOEXEC),
    }
}

/// `<cmd> - <help>` and its subcommands (ret 1, as Zephyr when it prints help).
pub(crate) fn sub_help(cmd: &str, subs: &[(&str, &str)]) -> Output {
    let help = COMMANDS.iter().find(|(n, _)| *n == cmd).map_or("", |c| c.1);
    let mut lines = vec![format!("{cmd} - {help}"), "Subcommands:".to_string()];
    lines.extend(subs.iter().map(|(n, h)| format!("  {n:<8}: {h}")));
    Output::lines(lines, HELP_PRINTED)
}

fn help() -> Output {
    let mut lines = vec![
        "Please press the <Tab> button to see all available commands.".to_string(),
        String::new(),
        "Available commands:".to_string(),
    ];
    lines.extend(COMMANDS.iter().map(|(n, h)| format!("  {n:<8}: {h}")));
    Output::ok(lines)
}

/// The version of the image that runs now.
fn firmware(server: &Server) -> String {
    server
        .image_state()
        .images
        .into_iter()
        .find(|s| s.active)
        .map_or_else(|| "0.0.0".to_string(), |s| s.version)
}

/// `net iface`, Zephyr-like, with the device's address.
fn net_iface(server: &Server) -> Output {
    let serial = hex::decode(&server.state.serial).unwrap_or_default();
    let b = |i: usize| serial.get(i).copied().unwrap_or(0);
    let mac = format!("02:00:5E:{:02X}:{:02X}:{:02X}", b(5), b(6), b(7));
    Output::ok([
        String::new(),
        "Interface eth0 (0x20001c40) (Ethernet) [1]".to_string(),
        "===================================".to_string(),
        format!("Link addr : {mac}"),
        "MTU       : 1500".to_string(),
        "Flags     : AUTO_START,IPv4".to_string(),
        "Device    : ethernet@40000000 (0x0000a0c8)".to_string(),
        "Status    : oper=UP, admin=UP, carrier=ON".to_string(),
        "IPv4 unicast addresses (max 1):".to_string(),
        format!("\t{}/255.0.0.0 manual preferred infinite", server.app.ip),
        "IPv4 multicast addresses (max 2):".to_string(),
        "\t<none>".to_string(),
        "IPv4 gateway : 0.0.0.0".to_string(),
        "IPv4 netmask : 255.0.0.0".to_string(),
    ])
}

/// Runs a command line typed on the telnet shell (split like Zephyr's shell: whitespace, quotes, `\`).
pub(crate) async fn run_line(shared: &Shared, line: &str) -> Output {
    let argv = match split_words(line) {
        Ok(argv) => argv,
        Err(e) => return Output::err(format!("error: {e}"), EINVAL),
    };
    let exec = exec(&mut lock(shared), &argv);
    match exec {
        Exec::Done(out) => out,
        Exec::Mqtt(job) => super::mqtt::connect(shared, job).await,
    }
}

/// The reply body to `{"o": output, "ret": ret}`, or EMSGSIZE when it does not fit one net buffer.
pub(crate) fn exec_reply(server: &Server, out: &Output) -> Vec<u8> {
    let body = encode(vec![
        ("o", Value::Text(out.text.clone())),
        ("ret", Value::Integer(out.ret.into())),
    ]);
    if body.len() + 8 > server.buf_size() as usize {
        return rc_body(RC_EMSGSIZE);
    }
    body
}

/// The reply body to a shell-group request, or `None` when the command is not supported. An `mqtt connect`
/// is left in [`super::app::App::deferred`] for [`super::net::answer`] to run.
pub(crate) fn handle(server: &mut Server, header: Header, payload: &[u8]) -> Option<Vec<u8>> {
    if (header.id, header.op) != (0, Op::Write) {
        return None;
    }
    let version = super::os::version_number(header.version);
    let map = Map::decode(payload).unwrap_or_default();
    let argv: Option<Vec<String>> = match map.get("argv") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_text().map(str::to_string))
            .collect(),
        _ => None,
    };
    let Some(argv) = argv else {
        server.log_request(
            header.group,
            header.id,
            header.seq,
            json!({"version": version, "rc": RC_EINVAL}),
        );
        return Some(rc_body(RC_EINVAL));
    };
    let line = argv.join(" ");
    let shell_err = |rc| group_err(header.version, GROUP_SHELL, rc, RC_EINVAL);
    let fields = json!({"version": version, "cmd": argv.first()});
    server.log_request(header.group, header.id, header.seq, fields);
    if line.len() >= CMD_BUFF_SIZE {
        return Some(shell_err(SHELL_ERR_COMMAND_TOO_LONG));
    }
    let words =
        split_words(&line).unwrap_or_else(|_| line.split_whitespace().map(String::from).collect());
    if words.is_empty() {
        return Some(shell_err(SHELL_ERR_EMPTY_COMMAND));
    }
    match exec(server, &words) {
        Exec::Done(out) => Some(exec_reply(server, &out)),
        Exec::Mqtt(job) => {
            server.app.deferred = Some(super::app::Deferred { header, job });
            // Replaced by the real reply once the connection is made (see `net::answer`).
            Some(exec_reply(
                server,
                &Output::err("mqtt: error: busy", super::shell::EIO),
            ))
        }
    }
}
