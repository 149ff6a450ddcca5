//! The console task: boot sequence, the one persistent UART session, idle kernel messages, reboot.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::console::{Action, Channel, Out, Session};
use super::{ConsoleCtl, Device, Service};
use crate::pty::PacedWriter;
use crate::state::HttpMode;
use crate::timing::{self, ms};

fn boot_log(dev: &Device) -> Vec<String> {
    let baud = dev.opts.baud;
    let (model, firmware) = (dev.variant().model, dev.variant().firmware);
    let mut v: Vec<String> = [
        "",
        "U-Boot 2013.07 (Mar 12 2019 - 10:15:42) Simvision",
        "",
        "DRAM:  128 MiB",
        "SF: Detected w25q128 with page size 256 Bytes, erase size 64 KiB, total 16 MiB",
        "In:    serial",
        "Out:   serial",
        "Err:   serial",
        "Net:   eth0",
        "Hit any key to stop autoboot:  0",
        "## Booting kernel from Legacy Image at 82000000 ...",
        "   Verifying Checksum ... OK",
        "   Loading Kernel Image ... OK",
        "",
        "Starting kernel ...",
        "",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for k in [
        "Booting Linux on physical CPU 0x0".to_string(),
        "Linux version 3.10.108 (build@simvision) (gcc version 4.9.4 (crosstool-NG 1.22.0)) #1 SMP PREEMPT Tue Mar 12 10:20:11 CST 2019".to_string(),
        "CPU: ARMv7 Processor [410fc075] revision 5 (ARMv7), cr=10c5387d".to_string(),
        format!("Machine: Simvision {model}"),
        "Memory: 128MB = 128MB total".to_string(),
        format!("Kernel command line: mem=128M console=ttyAMA0,{baud} root=/dev/mtdblock2 rootfstype=squashfs"),
        "Calibrating delay loop... 1196.85 BogoMIPS (lpj=5984256)".to_string(),
        "NET: Registered protocol family 2".to_string(),
        "m25p80 spi0.0: w25q128 (16384 Kbytes)".to_string(),
        "Serial: AMBA PL011 UART driver".to_string(),
        "VFS: Mounted root (squashfs filesystem) readonly on device 31:2.".to_string(),
        "Freeing unused kernel memory: 184K (c0470000 - c049e000)".to_string(),
        "eth0: link up, 100Mbps, full-duplex, lpa 0x45E1".to_string(),
    ] {
        v.push(format!("\x00{k}"));
    }
    v.push(format!(
        "Simvision IPC {model} firmware {firmware} (build 20190312)"
    ));
    v.push("Mounting /mnt/mtd (jffs2) ... OK".into());
    v.push("Starting syslogd: OK".into());
    v
}

/// Print the boot log, bring up the enabled services, end at the login prompt.
///
/// Whatever was typed while booting is lost: the input is drained before the login prompt goes out (not after,
/// or a fast host that answers the prompt could lose its first line).
async fn boot(
    dev: &Arc<Device>,
    s: &mut Session,
    input: &mut mpsc::Receiver<Vec<u8>>,
    reason: &str,
) {
    if let Err(e) = dev.mark_boot(reason) {
        tracing::error!("boot: cannot persist state: {e}");
    }
    let lines = boot_log(dev);
    let per_line = timing::BOOT_MS / (lines.len() as u64 + 4);
    for l in lines {
        // Kernel lines are stamped when printed.
        let text = match l.strip_prefix('\x00') {
            Some(k) => dev.kernel_line(k),
            None => l,
        };
        if text == "Starting kernel ..." {
            dev.reset_uptime();
        }
        s.emit_line(&text);
        s.pause(per_line, "boot").await;
    }
    for svc in Service::ALL {
        if !dev.is_enabled(svc) || (svc == Service::Http && dev.http_mode() == HttpMode::Off) {
            continue;
        }
        let res = dev.start_service(svc).await;
        let status = match res {
            Ok(_) => "OK".to_string(),
            Err(e) => {
                tracing::warn!("{e}");
                "FAILED".to_string()
            }
        };
        s.emit_line(&format!("Starting {}: {status}", svc.daemon()));
        s.pause(per_line, "boot").await;
    }
    while input.try_recv().is_ok() {}
    s.reset();
    s.emit("\r\n");
    s.prompt();
}

async fn reboot(dev: &Arc<Device>, s: &mut Session, input: &mut mpsc::Receiver<Vec<u8>>) {
    dev.events.log("reboot", json!({}));
    s.emit_line("The system is going down NOW!");
    s.emit_line("Sent SIGTERM to all processes");
    s.emit_line("Sent SIGKILL to all processes");
    s.emit_line("Requesting system reboot");
    dev.stop_all().await;
    let k = dev.kernel_line("reboot: Restarting system");
    s.emit_line(&k);
    s.pause(timing::REBOOT_SHUTDOWN_MS, "reboot-shutdown").await;
    boot(dev, s, input, "reboot").await;
}

fn idle_deadline(rng: &mut StdRng) -> Instant {
    let base = timing::KERNEL_IDLE_MIN_MS;
    Instant::now() + ms(base + rng.gen_range(0..base))
}

/// The UART console: boots, then serves one persistent session for as long as the process lives.
pub async fn run(
    dev: Arc<Device>,
    writer: PacedWriter,
    mut input: mpsc::Receiver<Vec<u8>>,
    mut ctl: mpsc::UnboundedReceiver<ConsoleCtl>,
) {
    let out: Out = Arc::new(move |b: &[u8]| writer.send(b));
    let mut s = Session::new(dev.clone(), Channel::Console, out);
    boot(&dev, &mut s, &mut input, "power-on").await;
    let mut idle_at = idle_deadline(&mut s.rng);
    loop {
        let kernel_on = !dev.opts.quiet_kernel && s.logged_in();
        tokio::select! {
            chunk = input.recv() => {
                let Some(chunk) = chunk else { return };
                for b in chunk {
                    if s.feed(b).await == Action::Reboot {
                        reboot(&dev, &mut s, &mut input).await;
                        break;
                    }
                }
                if let Some(t) = &dev.transcript {
                    t.chunk_done();
                }
                idle_at = idle_deadline(&mut s.rng);
            }
            Some(ConsoleCtl::Reboot) = ctl.recv() => {
                reboot(&dev, &mut s, &mut input).await;
                idle_at = idle_deadline(&mut s.rng);
            }
            _ = tokio::time::sleep_until(idle_at), if kernel_on => {
                s.emit_kernel_line();
                idle_at = idle_deadline(&mut s.rng);
            }
        }
    }
}
