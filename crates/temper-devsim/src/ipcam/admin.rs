//! Configuration commands of the camera: `cfgcli` and the `/etc/init.d` service scripts.

use serde_json::json;

use super::console::Session;
use super::shell::password_problem;
use super::{Service, HTTP_REALM, RTSP_REALM, RTSP_USER, WEB_USER};
use crate::state::{Credential, HttpMode};

pub async fn cfgcli(s: &mut Session, args: &[&str]) -> Vec<String> {
    match args {
        ["-g", "web.http_mode"] => return vec![s.dev.http_mode().id().into()],
        ["-s", "web.http_mode", v] => return set_http_mode(s, v).await,
        _ => {}
    }
    let (store, realm, cfg_user) = match args {
        ["-g", "web.admin.user"] => return vec![WEB_USER.into()],
        ["-g", "rtsp.admin.user"] => return vec![RTSP_USER.into()],
        ["-g", "web.admin.password"] | ["-g", "rtsp.admin.password"] => {
            return vec!["ERR permission denied".into()]
        }
        ["-g", _] => return vec!["ERR unknown key".into()],
        ["-s", "web.admin.password", _] => ("web-admin", HTTP_REALM, WEB_USER),
        ["-s", "rtsp.admin.password", _] => ("rtsp-admin", RTSP_REALM, RTSP_USER),
        ["-s", "web.admin.user" | "rtsp.admin.user", _] => return vec!["ERR read-only key".into()],
        ["-s", _, _] => return vec!["ERR unknown key".into()],
        _ => return vec!["usage: cfgcli -g <key> | cfgcli -s <key> <value>".into()],
    };
    let value = args[2];
    if let Some(reason) = password_problem(value) {
        s.dev.events.log(
            "password-change-rejected",
            json!({"store": store, "reason": reason}),
        );
        return vec!["ERR invalid value".into()];
    }
    let cred = Credential::digest(cfg_user, realm, value);
    match s.dev.update_state(|st| {
        st.credentials.insert(store.to_string(), cred);
    }) {
        Ok(()) => {
            s.dev
                .events
                .log("password-changed", json!({"store": store}));
            vec!["OK".into()]
        }
        Err(e) => {
            tracing::error!("{e}");
            vec!["ERR write failed".into()]
        }
    }
}

/// `cfgcli -s web.http_mode on|redirect|off`: persisted, applied at once (`off` closes port 80).
async fn set_http_mode(s: &mut Session, value: &str) -> Vec<String> {
    let Some(mode) = HttpMode::from_id(value) else {
        return vec!["ERR invalid value".into()];
    };
    let dev = s.dev.clone();
    if let Err(e) = dev.update_state(|st| st.http_mode = mode) {
        tracing::error!("{e}");
        return vec!["ERR write failed".into()];
    }
    dev.events.log("http-mode-set", json!({"mode": mode.id()}));
    match mode {
        HttpMode::Off => {
            if dev.stop_service(Service::Http).await {
                dev.events
                    .log("service-stopped", json!({"service": Service::Http.id()}));
            }
        }
        HttpMode::On | HttpMode::Redirect => {
            if dev.is_enabled(Service::Http) && !dev.is_running(Service::Http).await {
                match dev.start_service(Service::Http).await {
                    Ok(_) => dev
                        .events
                        .log("service-started", json!({"service": Service::Http.id()})),
                    Err(e) => tracing::warn!("{e}"),
                }
            }
        }
    }
    vec!["OK".into()]
}

pub async fn init_script(s: &mut Session, svc: Service, args: &[&str]) {
    let d = svc.daemon();
    let dev = s.dev.clone();
    let mut out = Vec::new();
    let set_enabled = |on: bool| {
        dev.update_state(|st| {
            st.services.insert(svc.id().to_string(), on);
        })
    };
    match args {
        ["start"] | ["restart"] => {
            if args[0] == "restart" && dev.stop_service(svc).await {
                dev.events
                    .log("service-stopped", json!({"service": svc.id()}));
                out.push(format!("Stopping {d}: OK"));
            }
            if svc == Service::Http && dev.http_mode() == HttpMode::Off {
                out.push(format!("{d}: web.http_mode is off"));
                out.push(format!("Starting {d}: FAILED"));
                s.emit_output(&out);
                return;
            }
            match dev.start_service(svc).await {
                Ok(started) => {
                    dev.events
                        .log("service-started", json!({"service": svc.id()}));
                    if svc == Service::Https && started {
                        let fp = dev.serving_fingerprint().unwrap_or_default();
                        dev.events.log("tls-restarted", json!({"fingerprint": fp}));
                    }
                    out.push(format!("Starting {d}: OK"));
                }
                Err(e) => {
                    tracing::warn!("{e}");
                    out.push(format!("Starting {d}: FAILED"));
                }
            }
        }
        ["stop"] => {
            dev.stop_service(svc).await;
            dev.events
                .log("service-stopped", json!({"service": svc.id()}));
            out.push(format!("Stopping {d}: OK"));
        }
        ["enable"] | ["disable"] => {
            let on = args[0] == "enable";
            match set_enabled(on) {
                Ok(()) => {
                    let ev = if on {
                        "service-enabled"
                    } else {
                        "service-disabled"
                    };
                    dev.events.log(ev, json!({"service": svc.id()}));
                    out.push(format!("{d}: {}", if on { "enabled" } else { "disabled" }));
                }
                Err(e) => {
                    tracing::error!("{e}");
                    out.push(format!("{d}: cannot write config"));
                }
            }
        }
        ["status"] => {
            let run = if dev.is_running(svc).await {
                "running"
            } else {
                "stopped"
            };
            let en = if dev.is_enabled(svc) {
                "enabled"
            } else {
                "disabled"
            };
            out.push(format!("{d}: {run}, {en}"));
        }
        _ => out.push(format!(
            "Usage: /etc/init.d/{d} {{start|stop|restart|enable|disable|status}}"
        )),
    }
    s.emit_output(&out);
}
