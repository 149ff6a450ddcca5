//! The label as a self-contained SVG, 62 mm × 29 mm (the common continuous-tape width of label printers; on A4
//! it prints at that size in a corner): a QR code on the left, text on the right. User units are millimetres.
//!
//! Text widths are estimated from the character count (no font metrics here): each line's font size shrinks
//! until the estimate fits, so a long model name or password never runs off the label.

use std::io;
use std::path::Path;

use qrcode::{Color, EcLevel, QrCode};
use zeroize::Zeroizing;

use super::CredentialLabel;
use crate::handover::escape;
use crate::Secret;

/// Label width and height (mm).
const WIDTH: f64 = 62.0;
const HEIGHT: f64 = 29.0;
/// The QR code's square, quiet zone included (mm), and its top-left corner.
const QR_SIZE: f64 = 27.0;
const QR_AT: (f64, f64) = (1.0, 1.0);
/// Modules of white around the code, as the QR standard asks.
const QUIET: usize = 4;
/// Where the text column starts and how wide it is (mm).
const TEXT_X: f64 = 29.0;
const TEXT_W: f64 = WIDTH - TEXT_X - 1.0;
/// Estimated advance of one character, in em: proportional sans (regular and bold; generous, DejaVu Sans is
/// wide) and monospace.
const SANS_EM: f64 = 0.62;
const BOLD_EM: f64 = 0.7;
const MONO_EM: f64 = 0.6;
/// Room below a baseline for descenders, in em of that line.
const DESCENT: f64 = 0.25;
/// Margin above the first line (mm).
const TOP: f64 = 0.8;
/// Password characters per line before it wraps (at most three lines).
const PASSWORD_LINE: usize = 14;

impl CredentialLabel {
    /// The label as one self-contained SVG document (no scripts, no external fonts or images). Holds the
    /// password, in the text and in the QR code.
    pub fn to_svg(&self) -> Secret {
        let title = format!("Credential label: {} {}", self.model, self.serial);
        let mut svg = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{WIDTH}mm\" height=\"{HEIGHT}mm\" \
             viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-labelledby=\"label-title\">\n\
             <title id=\"label-title\">{}</title>\n\
             <rect width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#fff\"/>\n",
            escape(&title)
        );
        svg += &self.qr_group();
        let (mut y, mut descent) = (0.0, TOP);
        let mut line = |svg: &mut String, text: &str, size: f64, style: &str| {
            y += descent + size;
            descent = size * DESCENT;
            let attrs = format!("x=\"{TEXT_X}\" y=\"{y:.2}\" font-size=\"{size:.2}\" {style}");
            *svg += &format!("<text {attrs}>{}</text>\n", escape(text));
        };
        let sans = "font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\" fill=\"#000\"";
        let bold = format!("{sans} font-weight=\"bold\"");
        line(&mut svg, &self.model, fit(&self.model, 2.8, BOLD_EM), &bold);
        let serial = format!("S/N {}", self.serial);
        line(&mut svg, &serial, fit(&serial, 2.3, SANS_EM), sans);
        let account = format!("User {} ({})", self.username, self.store);
        line(&mut svg, &account, fit(&account, 2.5, SANS_EM), sans);
        line(&mut svg, "Password", 2.0, sans);
        let mono =
            "font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" font-weight=\"bold\" \
                    fill=\"#000\" xml:space=\"preserve\"";
        let chars: Vec<char> = self.password.expose().chars().collect();
        let lines = chars.len().div_ceil(PASSWORD_LINE).clamp(1, 3);
        let per_line = chars.len().div_ceil(lines).max(1);
        let size = (TEXT_W / (per_line as f64 * MONO_EM)).min(3.4);
        for chunk in chars.chunks(per_line) {
            let mut text: String = chunk.iter().collect();
            line(&mut svg, &text, size, mono);
            zeroize::Zeroize::zeroize(&mut text);
        }
        if let Some(address) = &self.address {
            let address = format!("IP {address}");
            line(&mut svg, &address, fit(&address, 1.9, SANS_EM), sans);
        }
        svg += "</svg>\n";
        let secret = Secret::new(svg.as_str());
        zeroize::Zeroize::zeroize(&mut svg);
        secret
    }

    /// Writes [`CredentialLabel::to_svg`] to `path` atomically with mode 0600 (owner only, whatever the umask:
    /// the file holds the password). An existing file is replaced. The directory must exist.
    pub fn save_svg(&self, path: &Path) -> io::Result<()> {
        crate::handover::write_atomic(path, self.to_svg().expose().as_bytes(), 0o600)
    }

    /// The QR code as one `<path>` (a run of dark modules per row segment), or a note when the password is
    /// too long for any QR code.
    fn qr_group(&self) -> String {
        let Some((width, dark)) = qr_modules(self.qr_payload()) else {
            let (x, y) = (QR_AT.0 + 1.0, QR_AT.1 + QR_SIZE / 2.0);
            return format!(
                "<text x=\"{x}\" y=\"{y}\" font-size=\"1.8\" font-family=\"sans-serif\">(password too long for a QR code)</text>\n"
            );
        };
        let module = QR_SIZE / (width + 2 * QUIET) as f64;
        let (x, y) = (
            QR_AT.0 + QUIET as f64 * module,
            QR_AT.1 + QUIET as f64 * module,
        );
        let mut path = String::new();
        for row in 0..width {
            let mut col = 0;
            while col < width {
                if !dark[row * width + col] {
                    col += 1;
                    continue;
                }
                let start = col;
                while col < width && dark[row * width + col] {
                    col += 1;
                }
                path += &format!("M{start} {row}h{}v1h-{}z", col - start, col - start);
            }
        }
        let group = format!(
            "<g transform=\"translate({x:.3} {y:.3}) scale({module:.4})\" shape-rendering=\"crispEdges\">\
             <path fill=\"#000\" d=\"{path}\"/></g>\n"
        );
        zeroize::Zeroize::zeroize(&mut path);
        group
    }
}

/// The QR code's width and its modules (row by row, `true` = dark) for `payload`: error correction level Q
/// (a scuffed label still scans), falling back to L for long payloads; `None` when even L cannot hold it.
pub(super) fn qr_modules(payload: &str) -> Option<(usize, Zeroizing<Vec<bool>>)> {
    let code = QrCode::with_error_correction_level(payload, EcLevel::Q)
        .or_else(|_| QrCode::with_error_correction_level(payload, EcLevel::L))
        .ok()?;
    let width = code.width();
    let dark = code
        .into_colors()
        .into_iter()
        .map(|c| c == Color::Dark)
        .collect();
    Some((width, Zeroizing::new(dark)))
}

/// The largest font size up to `max` at which `text` fits the text column (estimated, see the module docs).
fn fit(text: &str, max: f64, em: f64) -> f64 {
    let chars = text.chars().count().max(1) as f64;
    (TEXT_W / (chars * em)).min(max)
}
