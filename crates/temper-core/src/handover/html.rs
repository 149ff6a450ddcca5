//! The handover report as one self-contained HTML file: inline CSS only (light, dark and print), no scripts, no
//! external resources, semantic tables. Every value from the inventory goes through [`escape`].

use super::{date, date_time, escape, HandoverDevice, HandoverReport, ServiceChanges, DAY};
use crate::inventory::{HardenedState, StepState};

/// The stylesheet, inlined into every report.
const STYLE: &str = include_str!("style.css");

impl HandoverReport {
    /// The report as one self-contained HTML document (see the module docs).
    pub fn to_html(&self) -> String {
        let site = self.site.as_deref().unwrap_or("all sites");
        let when = date_time(self.generated_at);
        let mut out = format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta name=\"color-scheme\" content=\"light dark\">\n\
             <title>Handover report: {} ({when})</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
             <header>\n<h1>Handover report</h1>\n<p>Site <strong>{}</strong>, made {when} by Temper.</p>\n",
            escape(site),
            escape(site)
        );
        out += &match &self.station_ca {
            Some(ca) => format!(
                "<p>Device certificates are signed by the station CA <code>{}</code> ({}{}).</p>\n",
                escape(&ca.fingerprint),
                escape(&ca.kind),
                if ca.imported { ", imported" } else { "" }
            ),
            None => "<p>No station CA: no device certificates were issued.</p>\n".into(),
        };
        out += "<p class=\"muted\">No password is in this report. The passwords are kept in the encrypted \
                inventory; each reveal is recorded in its audit trail.</p>\n</header>\n";
        out += &summary(self);
        for (i, device) in self.devices.iter().enumerate() {
            out += &device_section(i + 1, device, self.generated_at);
        }
        out += "</body>\n</html>\n";
        out
    }
}

fn summary(report: &HandoverReport) -> String {
    let s = report.summary;
    let mut out = format!(
        "<section aria-labelledby=\"summary\">\n<h2 id=\"summary\">Summary</h2>\n<table>\n\
         <tr><th scope=\"row\">Devices</th><td>{}</td></tr>\n\
         <tr><th scope=\"row\">Hardened</th><td>{}</td></tr>\n\
         <tr><th scope=\"row\">With failed checks</th><td>{}</td></tr>\n</table>\n",
        s.devices, s.hardened, s.with_failed_checks
    );
    out += "<nav aria-label=\"Devices\">\n<table>\n<caption class=\"muted\">Devices in this report</caption>\n\
            <thead><tr><th scope=\"col\">Serial</th><th scope=\"col\">Model</th><th scope=\"col\">Firmware</th>\
            <th scope=\"col\">State</th><th scope=\"col\">Failed checks</th></tr></thead>\n<tbody>\n";
    for (i, d) in report.devices.iter().enumerate() {
        let failed = d.checks.iter().filter(|c| !c.check.passed).count();
        out += &format!(
            "<tr><td><a href=\"#device-{}\"><code>{}</code></a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            i + 1,
            escape(&d.serial),
            escape(&d.model),
            escape(&d.firmware),
            state_mark(d.state),
            if failed == 0 { "none".to_string() } else { format!("<span class=\"fail\">{failed}</span>") }
        );
    }
    out + "</tbody>\n</table>\n</nav>\n</section>\n"
}

fn state_mark(state: HardenedState) -> String {
    match state {
        HardenedState::Hardened => "<span class=\"pass\">✓ hardened</span>".into(),
        other => format!("<span class=\"fail\">✗ {}</span>", other.as_str()),
    }
}

fn mark(passed: bool) -> &'static str {
    if passed {
        "<span class=\"pass\">✓ pass</span>"
    } else {
        "<span class=\"fail\">✗ FAIL</span>"
    }
}

fn row(name: &str, value: &str) -> String {
    format!("<tr><th scope=\"row\">{name}</th><td>{value}</td></tr>\n")
}

fn head(columns: &[&str]) -> String {
    let cells: String = columns
        .iter()
        .map(|c| format!("<th scope=\"col\">{c}</th>"))
        .collect();
    format!("<table>\n<thead><tr>{cells}</tr></thead>\n<tbody>\n")
}

fn device_section(n: usize, d: &HandoverDevice, now: u64) -> String {
    let opt = |v: &Option<String>| {
        v.as_deref()
            .map_or("<span class=\"muted\">unknown</span>".into(), escape)
    };
    let mut out = format!(
        "<article id=\"device-{n}\" aria-labelledby=\"device-{n}-title\">\n\
         <h2 id=\"device-{n}-title\">{} <code>{}</code></h2>\n<table>\n",
        escape(&d.model),
        escape(&d.serial)
    );
    out += &row("Serial", &format!("<code>{}</code>", escape(&d.serial)));
    out += &row("Model", &escape(&d.model));
    out += &row("Firmware", &escape(&d.firmware));
    out += &row(
        "Profile",
        &format!(
            "{} <span class=\"muted\">(SHA-256 <code>{}</code>)</span>",
            escape(&d.profile_id),
            escape(&d.profile_hash)
        ),
    );
    out += &row("Address", &opt(&d.address));
    out += &row("Site", &opt(&d.site));
    out += &row("State", &state_mark(d.state));
    out += &row("Record last changed", &date_time(d.updated_at));
    out += "</table>\n<h3>Steps</h3>\n";
    out += &head(&["Step", "Result", "When"]);
    for s in &d.steps {
        let title = crate::event::StepId::parse(&s.step).map_or(String::new(), |id| {
            format!(" <span class=\"muted\">{}</span>", id.title())
        });
        let result = match &s.state {
            StepState::Done => "<span class=\"pass\">✓ done</span>".to_string(),
            StepState::Failed { message } => {
                format!("<span class=\"fail\">✗ failed</span>: {}", escape(message))
            }
        };
        out += &format!(
            "<tr><td><code>{}</code>{title}</td><td>{result}</td><td>{}</td></tr>\n",
            escape(&s.step),
            date_time(s.at)
        );
    }
    out += "</tbody>\n</table>\n<h3>Credentials</h3>\n";
    out += &head(&["Store", "Account", "State", "Changed", "Age", "Rotate by"]);
    for c in &d.credentials {
        let state = match (c.rotated, c.pending) {
            (_, true) => "<span class=\"fail\">new credential pending confirmation</span>",
            (true, false) => "<span class=\"pass\">✓ replaced by Temper</span>",
            (false, false) => "<span class=\"fail\">✗ factory default</span>",
        };
        let rotate_by = match (c.rotate_by, c.overdue(now)) {
            (Some(by), Some(true)) => format!("<span class=\"fail\">{} (overdue)</span>", date(by)),
            (Some(by), _) => date(by),
            (None, _) => "<span class=\"muted\">no expiry policy known</span>".into(),
        };
        out += &format!(
            "<tr><td><code>{}</code></td><td>{}</td><td>{state}</td><td>{}</td><td>{}</td><td>{rotate_by}</td></tr>\n",
            escape(&c.store),
            escape(&c.username),
            c.changed_at.map_or("-".into(), date),
            c.age_days.map_or("-".into(), |days| format!("{days} days")),
        );
    }
    out += "</tbody>\n</table>\n<h3>Network services</h3>\n";
    out += &d.services.as_ref().map_or_else(
        || "<p class=\"muted\">No before/after scan is recorded.</p>\n".to_string(),
        services,
    );
    out += "<h3>Outside checks</h3>\n";
    out += &head(&[
        "Result",
        "Check",
        "Subject",
        "What was seen",
        "Guideline items",
    ]);
    for c in &d.checks {
        let refs: String = c
            .check
            .guideline
            .iter()
            .map(|g| format!("<li>{}</li>", escape(g)))
            .collect();
        out += &format!(
            "<tr><td>{}</td><td><code class=\"id\">{}</code><span class=\"phase muted\">phase: {}</span></td><td class=\"subject\">{}</td><td>{}</td><td class=\"refs\"><ul>{refs}</ul></td></tr>\n",
            mark(c.check.passed),
            escape(&c.check.id),
            escape(&c.phase),
            escape(&c.check.subject),
            escape(&c.check.detail)
        );
    }
    out += "</tbody>\n</table>\n<h3>Certificates</h3>\n";
    if d.certificates.is_empty() {
        out += "<p class=\"muted\">No certificate was issued to this device.</p>\n";
    } else {
        out += &head(&["SHA-256 fingerprint", "State", "Expires (notAfter)"]);
        for c in &d.certificates {
            let left = if c.not_after > now {
                format!("in {} days", (c.not_after - now) / DAY)
            } else {
                "<span class=\"fail\">expired</span>".into()
            };
            out += &format!(
                "<tr><td><code>{}</code></td><td>{}</td><td>{} <span class=\"muted\">({left})</span></td></tr>\n",
                escape(&c.fingerprint),
                c.state.as_str(),
                date(c.not_after)
            );
        }
        out += "</tbody>\n</table>\n";
    }
    if let Some(fp) = &d.factory_certificate {
        out += &format!(
            "<p>Factory certificate replaced: <code>{}</code></p>\n",
            escape(fp)
        );
    }
    out + "</article>\n"
}

fn services(s: &ServiceChanges) -> String {
    let ports = |notes: &[super::PortNote], proto: &str| -> String {
        if notes.is_empty() {
            return "none".into();
        }
        let items: String = notes
            .iter()
            .map(|n| match &n.service {
                Some(name) => format!(
                    "<li>{}/{proto} <span class=\"muted\">{}</span></li>",
                    n.port,
                    escape(name)
                ),
                None => format!("<li>{}/{proto}</li>", n.port),
            })
            .collect();
        format!("<ul>{items}</ul>")
    };
    let defaults: String = s
        .factory_defaults_accepted_before
        .iter()
        .map(|f| {
            format!(
                "<li><code>{}</code> over {} (port {})</li>",
                escape(&f.store),
                escape(&f.service),
                f.port
            )
        })
        .collect();
    let mut out = "<table>\n".to_string();
    out += &row("TCP ports closed", &ports(&s.tcp_closed, "tcp"));
    out += &row("UDP services silenced", &ports(&s.udp_closed, "udp"));
    out += &row(
        "UPnP discovery (SSDP)",
        if s.upnp_silenced {
            "answered before, silent after"
        } else {
            "no change"
        },
    );
    out += &row("TCP ports open after", &ports(&s.tcp_open_after, "tcp"));
    out += &row(
        "Factory defaults that worked before",
        &if defaults.is_empty() {
            "none".into()
        } else {
            format!("<ul>{defaults}</ul>")
        },
    );
    out + "</table>\n"
}
