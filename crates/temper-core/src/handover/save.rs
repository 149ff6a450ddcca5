//! Writing the report (and credential labels) to disk atomically: a temporary file beside the target is written,
//! fsync'd and renamed over it, so a reader never sees half a file.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rand::RngCore;

use super::HandoverReport;

/// Longest site slug in a file name.
const MAX_SLUG: usize = 40;

impl HandoverReport {
    /// Writes [`HandoverReport::to_html`] to `dir/handover-<site-slug>-<YYYYmmdd-HHMMSS>.html` (UTC, from
    /// `generated_at`; `all-sites` when the report has no site), creating `dir`, with mode 0644, atomically.
    /// Returns the path written. A report of the same site made in the same second is replaced.
    pub fn save_html(&self, dir: &Path) -> io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(self.file_name());
        write_atomic(&path, self.to_html().as_bytes(), 0o644)?;
        Ok(path)
    }

    /// `handover-<site-slug>-<YYYYmmdd-HHMMSS>.html`.
    pub fn file_name(&self) -> String {
        let slug = self.site.as_deref().map_or("all-sites".to_string(), slug);
        let t = super::utc(self.generated_at);
        format!(
            "handover-{slug}-{:04}{:02}{:02}-{:02}{:02}{:02}.html",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

/// A file-name-safe form of a site label: lowercase ASCII letters and digits, runs of anything else as one `-`,
/// at most [`MAX_SLUG`] characters; `site` when nothing is left.
pub(crate) fn slug(site: &str) -> String {
    let mut out = String::new();
    for c in site.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(MAX_SLUG);
    let out = out.trim_end_matches('-');
    if out.is_empty() {
        "site".into()
    } else {
        out.to_string()
    }
}

/// Writes `bytes` to `path` atomically with permissions `mode` (set explicitly, whatever the umask): the
/// temporary file is created with `mode` before any byte is written, fsync'd, renamed over `path`, and the
/// directory is fsync'd. On failure the temporary file is removed.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut suffix = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut suffix);
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(format!(".tmp-{}", hex::encode(suffix)));
    let tmp = PathBuf::from(tmp_name);
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
        std::fs::File::open(parent.unwrap_or(Path::new(".")))?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::handover::HandoverSummary;

    fn empty(site: Option<&str>) -> HandoverReport {
        HandoverReport {
            site: site.map(str::to_string),
            generated_at: 1_700_000_000, // 2023-11-14 22:13:20 UTC
            station_ca: None,
            summary: HandoverSummary {
                devices: 0,
                hardened: 0,
                with_failed_checks: 0,
            },
            devices: vec![],
        }
    }

    /// Guards: a hostile site label can never leave the directory or hide the file (no `/`, `..`, dot-files).
    #[test]
    fn handover_slug_keeps_file_names_safe() {
        assert_eq!(slug("Warehouse 3 / Dock B"), "warehouse-3-dock-b");
        assert_eq!(slug("../../etc/passwd"), "etc-passwd");
        assert_eq!(slug("<script>"), "script");
        assert_eq!(
            slug("Ünïcode ☃"),
            "n-code",
            "non-ASCII letters are separators"
        );
        assert_eq!(slug("..."), "site");
        assert_eq!(slug(&"a".repeat(100)).len(), MAX_SLUG);
        assert_eq!(
            empty(Some("Site A")).file_name(),
            "handover-site-a-20231114-221320.html"
        );
        assert_eq!(
            empty(None).file_name(),
            "handover-all-sites-20231114-221320.html"
        );
    }

    /// Guards: the report is written whole (no temporary file left), world-readable 0644 even under a strict
    /// umask-free default, into a directory that did not exist.
    #[test]
    fn handover_save_html_is_atomic_and_0644() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("new/reports");
        let path = empty(Some("Site A")).save_html(&out).unwrap();
        assert_eq!(path.parent(), Some(out.as_path()));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "a handover report is meant to be shared");
        let names: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names.len(),
            1,
            "no temporary file may be left behind: {names:?}"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("<!DOCTYPE html>") && text.ends_with("</html>\n"));
    }
}
