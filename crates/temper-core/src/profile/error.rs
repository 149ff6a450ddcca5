//! Profile errors: each names the file, line, column and field, says what is wrong and how to fix it.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::locate;

/// What kind of problem a profile has. [`ProfileErrorKind::code`] is stable: front ends branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileErrorKind {
    /// The file or directory could not be read.
    Io,
    /// The file is not valid TOML (or not UTF-8).
    Syntax,
    /// A key the schema does not know.
    UnknownField,
    /// A required key is absent.
    MissingField,
    /// A value has the wrong type, format or range.
    InvalidValue,
    /// A regex does not compile or lacks its named group.
    BadPattern,
    /// The password policy cannot be met, or is weaker than the device allows.
    ImpossiblePolicy,
    /// An id is used twice.
    Duplicate,
    /// A reference names nothing, or two settings contradict each other.
    BadReference,
}

impl ProfileErrorKind {
    /// A stable code, e.g. `profile-missing-field`.
    pub fn code(self) -> &'static str {
        match self {
            ProfileErrorKind::Io => "profile-io",
            ProfileErrorKind::Syntax => "profile-syntax",
            ProfileErrorKind::UnknownField => "profile-unknown-field",
            ProfileErrorKind::MissingField => "profile-missing-field",
            ProfileErrorKind::InvalidValue => "profile-invalid-value",
            ProfileErrorKind::BadPattern => "profile-bad-pattern",
            ProfileErrorKind::ImpossiblePolicy => "profile-impossible-policy",
            ProfileErrorKind::Duplicate => "profile-duplicate",
            ProfileErrorKind::BadReference => "profile-bad-reference",
        }
    }
}

/// A position in a profile file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Byte range of the offending text (for a diagnostic renderer such as miette).
    pub span: Range<usize>,
}

impl Location {
    /// The location of byte `span.start` in `source`.
    pub fn in_source(source: &str, span: Range<usize>) -> Self {
        let start = floor_char_boundary(source, span.start);
        let before = &source[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Location { line, column, span }
    }
}

fn floor_char_boundary(source: &str, mut index: usize) -> usize {
    index = index.min(source.len());
    while !source.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// A profile that cannot be used. Displays as `file:line:column: field: message. help: what to do`.
/// Boxed, so a `Result<_, ProfileError>` stays one pointer wide.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ProfileError(Box<Details>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Details {
    kind: ProfileErrorKind,
    file: PathBuf,
    location: Option<Location>,
    field: String,
    message: String,
    help: String,
}

impl ProfileError {
    pub(crate) fn new(
        kind: ProfileErrorKind,
        file: &Path,
        location: Option<Location>,
        field: impl Into<String>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Self {
        let (field, message, help) = (field.into(), message.into(), help.into());
        ProfileError(Box::new(Details {
            kind,
            file: file.to_path_buf(),
            location,
            field,
            message,
            help,
        }))
    }

    /// What kind of problem.
    pub fn kind(&self) -> ProfileErrorKind {
        self.0.kind
    }

    /// The stable code of [`ProfileError::kind`], e.g. `profile-missing-field`.
    pub fn code(&self) -> &'static str {
        self.0.kind.code()
    }

    /// The profile file (or the directory, when a directory cannot be read).
    pub fn file(&self) -> &Path {
        &self.0.file
    }

    /// Where in the file; `None` when the file could not be read at all.
    pub fn location(&self) -> Option<&Location> {
        self.0.location.as_ref()
    }

    /// The 1-based line, if known.
    pub fn line(&self) -> Option<usize> {
        self.0.location.as_ref().map(|l| l.line)
    }

    /// The field path, e.g. `console.shell_prompt` or `credentials[1].change_command`; empty for the whole file.
    pub fn field(&self) -> &str {
        &self.0.field
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// What to do about it.
    pub fn help(&self) -> &str {
        &self.0.help
    }

    pub(crate) fn io(file: &Path, err: &std::io::Error) -> Self {
        let help = "check the path and its permissions";
        ProfileError::new(
            ProfileErrorKind::Io,
            file,
            None,
            "",
            format!("cannot read: {err}"),
            help,
        )
    }

    /// Converts a TOML or serde error, finding the field path from the error's span.
    pub(crate) fn from_toml(err: &toml::de::Error, source: &str, file: &Path) -> Self {
        use ProfileErrorKind::{InvalidValue, MissingField, Syntax, UnknownField};
        let span = err.span().unwrap_or(0..0);
        let message = err.message().trim().replace('\n', "; ");
        let location = Some(Location::in_source(source, span.clone()));
        if let Some(name) = backticked(&message, "missing field `") {
            let table = locate::path_at(source, span.start);
            let help = missing_field_help(&table, name);
            return ProfileError::new(
                MissingField,
                file,
                location,
                join(&table, name),
                "missing field",
                help,
            );
        }
        if let Some(name) = backticked(&message, "unknown field `") {
            let table = locate::table_of_key_at(source, span.start);
            let (field, help) = (join(&table, name), unknown_field_help(&table, &message));
            return ProfileError::new(
                UnknownField,
                file,
                location,
                field,
                format!("unknown field `{name}`"),
                help,
            );
        }
        let field = locate::path_at(source, span.start);
        let value_errors = [
            "invalid type",
            "invalid value",
            "invalid length",
            "unknown variant",
        ];
        if value_errors
            .iter()
            .any(|prefix| message.starts_with(prefix))
        {
            let help =
                "see provisioning-profiles/profile.schema.json for the expected type and values";
            return ProfileError::new(InvalidValue, file, location, field, message, help);
        }
        let help = "fix the TOML syntax here (https://toml.io/en/v1.0.0)";
        ProfileError::new(Syntax, file, location, field, message, help)
    }
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.0;
        write!(f, "{}", d.file.display())?;
        if let Some(at) = &d.location {
            write!(f, ":{}:{}", at.line, at.column)?;
        }
        f.write_str(": ")?;
        if !d.field.is_empty() {
            write!(f, "{}: ", d.field)?;
        }
        write!(f, "{}. help: {}", d.message.trim_end_matches('.'), d.help)
    }
}

/// A failed check, before it is placed in a file: the checks see only the parsed profile.
#[derive(Debug)]
pub(crate) struct Issue {
    pub kind: ProfileErrorKind,
    pub span: Range<usize>,
    pub field: String,
    pub message: String,
    pub help: String,
}

impl Issue {
    /// An issue at the span of `at`.
    pub fn at<T>(
        kind: ProfileErrorKind,
        at: &Spanned<T>,
        field: impl Into<String>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Self {
        Issue {
            kind,
            span: at.span(),
            field: field.into(),
            message: message.into(),
            help: help.into(),
        }
    }

    /// Places the issue in `file`.
    pub fn locate(self, source: &str, file: &Path) -> ProfileError {
        let location = Some(Location::in_source(source, self.span));
        ProfileError::new(
            self.kind,
            file,
            location,
            self.field,
            self.message,
            self.help,
        )
    }
}

fn backticked<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?;
    rest.split('`').next()
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

fn table_name(path: &str) -> String {
    if path.contains('[') {
        format!("the {path} entry")
    } else {
        format!("[{path}]")
    }
}

fn missing_field_help(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        return match name {
            "credentials" | "services" => format!("add at least one [[{name}]] table"),
            _ => format!("add a [{name}] table"),
        };
    }
    format!(
        "add {name} = {} to {}",
        value_hint(name),
        table_name(parent)
    )
}

/// A placeholder value for a missing key, from its name.
fn value_hint(name: &str) -> &'static str {
    let regex = [
        "banner",
        "pattern",
        "prompt",
        "login_failed",
        "kernel_line",
        "change_success",
        "expect",
    ];
    let number = ["_ms", "baud", "port", "_length", "schema_version", "_days"];
    let list = [
        "usb_ids",
        "lock",
        "require_classes",
        "extra_udp_ports",
        "change_dialog",
    ];
    if regex.iter().any(|r| name.ends_with(r)) {
        "'<regex>'"
    } else if name.ends_with("command") || name == "send" {
        "\"<command>\""
    } else if number.iter().any(|n| name.ends_with(n)) {
        "<number>"
    } else if list.contains(&name) {
        "[...]"
    } else if name == "allowed" {
        "true or false"
    } else if name == "confirm" {
        "{ method = \"console-login\" }"
    } else if name == "method" {
        "\"console-login\", \"http-digest\" or \"rtsp-digest\""
    } else {
        "\"...\""
    }
}

fn unknown_field_help(parent: &str, message: &str) -> String {
    let place = if parent.is_empty() {
        "at the top level".to_string()
    } else {
        format!("in {}", table_name(parent))
    };
    let Some((_, expected)) = message.split_once(", expected ") else {
        return format!("no other keys are allowed {place}; remove it");
    };
    let allowed: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    if allowed.is_empty() {
        format!("no other keys are allowed {place}; remove it")
    } else {
        format!(
            "check the spelling; the keys allowed {place} are: {}",
            allowed.join(", ")
        )
    }
}
