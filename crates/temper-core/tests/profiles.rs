//! Provisioning profiles: every shipped profile loads, broken ones fail closed with errors that point at the
//! line and field, the password generator honours the policy, and the committed JSON Schema is current.

use std::path::{Path, PathBuf};

use temper_core::profile::{
    self, Confirm, CredentialChange, CredentialKind, Profile, ProfileError, ProfileErrorKind,
    Protocol,
};
use temper_core::Secret;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn shipped_dir() -> PathBuf {
    manifest_dir().join("../../provisioning-profiles")
}

fn fixture(name: &str) -> PathBuf {
    manifest_dir().join("tests/fixtures/profiles").join(name)
}

fn ipcam_source() -> String {
    std::fs::read_to_string(shipped_dir().join("ipcam.toml")).expect("ipcam.toml is shipped")
}

/// ipcam.toml with `from` (which must occur exactly once) replaced by `to`.
fn ipcam_with(from: &str, to: &str) -> String {
    let source = ipcam_source();
    assert_eq!(
        source.matches(from).count(),
        1,
        "the edit target {from:?} should occur once in ipcam.toml"
    );
    source.replacen(from, to, 1)
}

/// The 1-based line of the first occurrence of `needle`.
fn line_of(source: &str, needle: &str) -> usize {
    let at = source
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} is in the source"));
    source[..at].matches('\n').count() + 1
}

fn load_err(source: &str) -> ProfileError {
    match Profile::from_toml_str(source, Path::new("provisioning-profiles/x.toml")) {
        Ok(p) => panic!("profile {} should have been refused", p.id),
        Err(e) => e,
    }
}

/// Asserts the error's code, field and line, and that its text shows `file:line:`, the field and a help line.
fn assert_points_at(err: &ProfileError, code: &str, field: &str, line: usize) {
    let text = err.to_string();
    assert_eq!(err.code(), code, "wrong kind in: {text}");
    assert_eq!(err.field(), field, "wrong field path in: {text}");
    assert_eq!(err.line(), Some(line), "wrong line in: {text}");
    let prefix = format!("provisioning-profiles/x.toml:{line}:");
    assert!(text.starts_with(&prefix), "file:line come first: {text}");
    assert!(
        field.is_empty() || text.contains(&format!(": {field}: ")),
        "names the field: {text}"
    );
    assert!(
        text.contains(". help: "),
        "every error says what to do: {text}"
    );
}

#[test]
fn every_shipped_profile_loads() {
    let profiles = profile::load_dir(&shipped_dir())
        .unwrap_or_else(|e| panic!("a shipped profile is broken: {e}"));
    assert!(
        profiles.iter().any(|p| p.id == "ipcam"),
        "ipcam.toml is shipped and must load"
    );
    let ids: Vec<&str> = profiles.iter().map(|p| p.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "load_dir returns profiles sorted by id");
}

#[test]
fn ipcam_is_read_into_the_typed_layer() {
    let path = shipped_dir().join("ipcam.toml");
    let p = Profile::load(&path).expect("ipcam loads");
    assert_eq!(
        (p.id.as_str(), p.vendor.as_str(), p.baud),
        ("ipcam", "Simvision", 115200)
    );
    assert_eq!(p.recognition.usb_ids, vec![(0x10c4, 0xea60)]);
    let caps = p
        .recognition
        .model_pattern
        .captures("Hardware\t: Simvision SV-IPC2100\n")
        .expect("model matches");
    assert_eq!(&caps["model"], "Simvision SV-IPC2100");
    let console = p.console.as_ref().expect("a console profile");
    assert_eq!(console.line_ending, "\r");
    assert_eq!(console.login_timeout.as_millis(), 8000);
    assert!(console.shell_prompt.is_match("~ # "));
    assert!(p.smp.is_none(), "a console model has no SMP link");
    assert_eq!(
        &p.address
            .pattern
            .captures("inet 10.0.0.7/24")
            .expect("ip matches")["ip"],
        "10.0.0.7"
    );
    assert_eq!(p.source_hash.len(), 64, "sha256 hex");
    assert_eq!(
        p.source_hash,
        Profile::load(&path).expect("loads twice").source_hash,
        "hash is stable"
    );

    let root = p.credential("shell-root").expect("shell-root store");
    assert_eq!(root.kind, CredentialKind::ConsoleLogin);
    assert_eq!(root.default_password.expose(), "xmhdipc");
    let CredentialChange::Command { dialog, .. } = &root.change else {
        panic!("the console login is changed with a command");
    };
    assert_eq!(dialog.len(), 2);
    assert_eq!(dialog[1].render(&Secret::new("N3w-pw")).expose(), "N3w-pw");
    let web = p.credential("web-admin").expect("web-admin store");
    assert_eq!(
        web.confirm,
        Confirm::HttpDigest {
            port: 80,
            path: "/".into()
        }
    );
    let line = web
        .change
        .render_command(&Secret::new("Abc.123"))
        .expect("a command store");
    assert_eq!(line.expose(), "cfgcli -s web.admin.password 'Abc.123'");
    assert!(p.credential("nope").is_none());

    let telnet = p.service("telnet").expect("telnet service");
    assert!(!telnet.allowed && telnet.protocol == Protocol::Tcp && telnet.port == 23);
    assert!(telnet
        .disabled_pattern
        .as_ref()
        .expect("closable")
        .is_match("telnetd: stopped, disabled"));
    let accounts = p
        .accounts
        .as_ref()
        .expect("the camera has factory accounts");
    assert_eq!(accounts.lock, vec!["support".to_string()]);
    assert_eq!(accounts.lock_command_for("support"), "passwd -l support");
    assert!(accounts
        .locked_regex("support")
        .is_match("root:x:0\nsupport:!:19000"));
    assert!(
        !accounts
            .locked_regex("support")
            .is_match("support:$1$abc:19000"),
        "a hash is not locked"
    );
    assert_eq!(p.password_policy.max_age_days(), Some(365));
    assert!(p.extra_udp_ports.is_empty());
}

#[test]
fn debug_output_never_shows_default_passwords() {
    let p = Profile::load(&shipped_dir().join("ipcam.toml")).expect("ipcam loads");
    let text = format!("{p:?}");
    assert!(
        text.contains("Secret(<redacted>)"),
        "default passwords show as redacted secrets"
    );
    for password in ["xmhdipc", "12345"] {
        assert!(
            !text.contains(password),
            "Debug of a profile leaked the default password {password:?}"
        );
    }
}

#[test]
fn generated_passwords_meet_the_policy() {
    let policy = Profile::load(&shipped_dir().join("ipcam.toml"))
        .expect("ipcam loads")
        .password_policy;
    assert_eq!(policy.generated_length(), 24, "ipcam: min_length 24");
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        let secret = policy.generate();
        assert_eq!(secret.len(), 24);
        policy
            .check(&secret)
            .unwrap_or_else(|e| panic!("a generated password fails the policy: {e}"));
        assert!(
            seen.insert(secret.expose().to_string()),
            "CSPRNG output should never repeat"
        );
    }
}

#[test]
fn a_device_that_takes_fewer_than_20_characters_gets_its_maximum() {
    let p = Profile::load(&fixture("short-password.toml")).expect("fixture loads");
    assert_eq!(
        p.password_policy.generated_length(),
        16,
        "max_length 16 < 20: generate max_length"
    );
    for _ in 0..50 {
        let secret = p.password_policy.generate();
        assert_eq!(secret.len(), 16);
        assert!(
            p.password_policy.check(&secret).is_ok(),
            "symbol class and all must be present"
        );
    }
    assert_eq!(
        p.credentials[0].default_password.expose(),
        "",
        "an empty factory password is allowed"
    );
    assert_eq!(
        p.recognition.usb_ids,
        vec![(0x1a86, 0x7523), (0x0403, 0x6001)]
    );
}

#[test]
fn check_reports_what_is_wrong_without_quoting_the_password() {
    let policy = Profile::load(&shipped_dir().join("ipcam.toml"))
        .expect("ipcam loads")
        .password_policy;
    let short = policy.check(&Secret::new("Abc123")).expect_err("too short");
    assert!(
        short.contains("at least 24") && !short.contains("Abc123"),
        "{short}"
    );
    let bad_char = policy
        .check(&Secret::new("Abcdefghijkmnopqrstuvwx2 z"))
        .expect_err("space");
    assert!(bad_char.contains("character 25"), "{bad_char}");
    let no_digit = policy
        .check(&Secret::new("ABCDEFGHJKLMNPQRabcdefghijk"))
        .expect_err("no digit");
    assert!(no_digit.contains("digit"), "{no_digit}");
}

#[derive(serde::Deserialize)]
struct Edits {
    case: Vec<Edit>,
}

#[derive(serde::Deserialize)]
struct Edit {
    what: String,
    from: String,
    to: String,
    at: Option<String>,
    code: String,
    field: String,
}

/// Each broken profile in fixtures/profiles/broken-edits.toml fails closed, naming its field and line.
#[test]
fn broken_profiles_fail_with_field_and_line() {
    let text = std::fs::read_to_string(fixture("broken-edits.toml")).expect("broken-edits.toml");
    let edits: Edits = toml::from_str(&text).expect("broken-edits.toml parses");
    assert!(edits.case.len() >= 25, "the table covers every check");
    for edit in edits.case {
        let source = ipcam_with(&edit.from, &edit.to);
        let err = load_err(&source);
        let at = edit
            .at
            .as_deref()
            .unwrap_or_else(|| edit.to.lines().next().unwrap_or(""));
        let offset = source
            .rfind(at)
            .unwrap_or_else(|| panic!("{}: {at:?} is in the edited source", edit.what));
        let line = source[..offset].matches('\n').count() + 1;
        eprintln!("case: {} -> {err}", edit.what);
        assert_points_at(&err, &edit.code, &edit.field, line);
    }
}

#[test]
fn error_messages_and_help_lines_read_well() {
    let err = load_err(&ipcam_with("shell_prompt = '(?m)[#$] $'\n", ""));
    let expected =
        ": console.shell_prompt: missing field. help: add shell_prompt = '<regex>' to [console]";
    assert!(err.to_string().ends_with(expected), "{err}");

    let err = load_err(&ipcam_with("shell_prompt = ", "shell_promt = "));
    assert!(
        err.help().contains("shell_prompt") && err.help().contains("login_timeout_ms"),
        "lists keys: {err}"
    );

    let err = load_err(&ipcam_with("min_length = 24", "min_length = 12"));
    let guideline = "the device accepts 20+ characters; the guideline asks for at least 20";
    assert!(err.message().contains(guideline), "{err}");
    assert_eq!(err.kind(), ProfileErrorKind::ImpossiblePolicy);

    let source = ipcam_with("service = \"http\"\n", "");
    let header = source
        .match_indices("[[credentials]]")
        .nth(1)
        .expect("second store")
        .0;
    let line = source[..header].matches('\n').count() + 1;
    assert_points_at(
        &load_err(&source),
        "profile-missing-field",
        "credentials[1].service",
        line,
    );

    let from_file = Profile::load(&fixture("invalid/bad-syntax.toml")).expect_err("broken fixture");
    assert!(
        from_file.to_string().contains("bad-syntax.toml:3:"),
        "file and line: {from_file}"
    );
    assert!(
        profile::load_dir(&fixture("invalid")).is_err(),
        "one broken file fails the whole directory"
    );
}

#[test]
fn load_dir_refuses_two_profiles_with_one_id() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("a.toml"), ipcam_source()).expect("write a");
    std::fs::write(dir.path().join("b.toml"), ipcam_source()).expect("write b");
    std::fs::write(dir.path().join("notes.txt"), "not a profile").expect("write notes");
    let err = profile::load_dir(dir.path()).expect_err("duplicate ids must fail");
    assert_eq!(err.kind(), ProfileErrorKind::Duplicate);
    assert!(
        err.file().ends_with("b.toml") && err.message().contains("a.toml"),
        "names both files: {err}"
    );
    assert_eq!(err.line(), Some(line_of(&ipcam_source(), "id = \"ipcam\"")));

    std::fs::remove_file(dir.path().join("b.toml")).expect("remove b");
    std::fs::copy(
        fixture("short-password.toml"),
        dir.path().join("0-plug.toml"),
    )
    .expect("copy fixture");
    let ids: Vec<String> = profile::load_dir(dir.path())
        .expect("loads")
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, ["ipcam", "plug"], "sorted by id, not by file name");
}

#[test]
fn unreadable_files_are_io_errors() {
    let err = Profile::load(Path::new("/nonexistent/x.toml")).expect_err("no such file");
    assert_eq!(
        (err.kind(), err.code()),
        (ProfileErrorKind::Io, "profile-io")
    );
    assert!(
        err.to_string()
            .starts_with("/nonexistent/x.toml: cannot read"),
        "{err}"
    );
}

/// The committed schema is what editors validate against: it must match the structs.
#[test]
fn committed_json_schema_is_current() {
    let path = shipped_dir().join("profile.schema.json");
    let generated = profile::json_schema();
    if std::env::var_os("TEMPER_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).expect("write profile.schema.json");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is out of date with temper_core::profile; regenerate it with \
         `TEMPER_UPDATE_SCHEMA=1 cargo test -p temper-core --test profiles`",
        path.display()
    );
    assert!(
        generated.contains("\"additionalProperties\": false"),
        "unknown keys are refused in the schema too"
    );
}

/// The certificate section is read into the typed layer, and without a clock section it is refused: a
/// device that boots in 1970 would refuse every certificate Temper gives it.
#[test]
fn certificate_section_is_typed_and_needs_a_clock() {
    let ipcam = Profile::load(&shipped_dir().join("ipcam.toml")).expect("ipcam loads");
    let cert = ipcam
        .certificate
        .as_ref()
        .expect("ipcam has a certificate section");
    assert_eq!(cert.service.as_deref(), Some("https"));
    assert_eq!(cert.slots, 1);
    assert_eq!(cert.policy.validity_days, 365);
    assert_eq!(cert.policy.backdate_minutes, 5);
    assert!(cert.policy.san_ip && !cert.policy.san_dns);
    assert_eq!(cert.policy.tls_role, temper_core::pki::TlsRole::Server);
    let http = cert.plain_http.as_ref().expect("plain_http");
    assert_eq!((http.port, http.credential.as_str()), (80, "web-admin"));
    let clock = ipcam.clock.as_ref().expect("ipcam has a clock section");
    assert_eq!(
        clock.set_command_for(1_748_779_200).as_deref(),
        Some("date -u -s '2025-06-01 12:00:00'")
    );

    let source = ipcam_source();
    let start = source.find("[clock]").expect("[clock]");
    let end = source.find("[certificate]").expect("[certificate]");
    let without_clock = format!("{}{}", &source[..start], &source[end..]);
    let err = load_err(&without_clock);
    assert_eq!(err.code(), "profile-bad-reference", "{err}");
    assert!(err.to_string().contains("needs a [clock] section"), "{err}");
}

/// `{key}` in the genkey command: the device is told the key type, the profile's default (or first allowed
/// kind) unless the station chooses another it allows; a choice outside allowed_keys is refused.
#[test]
fn station_chooses_the_key_type_within_what_the_profile_allows() {
    use temper_core::pki::AllowedKey;
    let ipcam = Profile::load(&shipped_dir().join("ipcam.toml")).expect("ipcam loads");
    let cert = ipcam.certificate.as_ref().expect("certificate");
    assert!(cert.chooses_key());
    assert_eq!(
        cert.key_kind(),
        Some(AllowedKey::EcdsaP256),
        "first allowed"
    );
    assert_eq!(
        cert.genkey().as_deref(),
        Ok("certtool genkey --type ec-p256")
    );

    let ed = ipcam.with_cert_key("ed25519").expect("ed25519 is allowed");
    let ed_cert = ed.certificate.as_ref().expect("certificate");
    assert_eq!(ed_cert.key_kind(), Some(AllowedKey::Ed25519));
    assert_eq!(ed_cert.policy.required_key, Some(AllowedKey::Ed25519));
    assert_eq!(
        ed_cert.genkey().as_deref(),
        Ok("certtool genkey --type ed25519")
    );
    assert_eq!(
        ed_cert.policy.allowed_keys, cert.policy.allowed_keys,
        "a choice does not widen"
    );

    let err = ipcam.with_cert_key("rsa-2048").expect_err("not allowed");
    assert!(
        err.contains("rsa-2048") && err.contains("ecdsa-p256, ecdsa-p384, ed25519"),
        "{err}"
    );
    let err = ipcam.with_cert_key("dsa-512").expect_err("unknown");
    assert!(err.contains("unknown key type"), "{err}");

    let pro = Profile::load(&shipped_dir().join("ipcam-pro.toml")).expect("ipcam-pro loads");
    let pro_cert = pro.certificate.as_ref().expect("certificate");
    assert_eq!(
        pro_cert.key_kind(),
        Some(AllowedKey::EcdsaP256),
        "default_key"
    );
    let p384 = pro.with_cert_key("ecdsa-p384").expect("allowed");
    let genkey = p384.certificate.as_ref().expect("certificate").genkey();
    assert_eq!(
        genkey.as_deref(),
        Ok("certtool genkey --slot {slot} --type ec-p384")
    );

    // A device that picks its own key type cannot be told one.
    let source = ipcam_source()
        .replace("--type {key}", "--type ec-p256")
        .replace("[certificate.key_names]", "[unused]");
    let source = match source.find("[unused]") {
        Some(at) => {
            let end = source[at..].find("\n\n").map_or(source.len(), |e| at + e);
            format!("{}{}", &source[..at], &source[end..])
        }
        None => source,
    };
    let picks = Profile::from_toml_str(&source, Path::new("x.toml")).expect("loads");
    let picks_cert = picks.certificate.as_ref().expect("certificate");
    assert!(!picks_cert.chooses_key());
    assert_eq!(picks_cert.key_kind(), None, "any allowed kind is accepted");
    let err = picks
        .with_cert_key("ecdsa-p256")
        .expect_err("cannot be told");
    assert!(err.contains("picks its own key type"), "{err}");
}
