//! Real USB-serial devices, found in sysfs (Linux).

use std::path::{Path, PathBuf};

use super::{AttachedDevice, DeviceSource, DiscoveryError, Source, Transport, UsbIdentity};

/// USB-serial ports listed in `<root>/sys/class/tty`: each entry whose `device` link resolves into a USB
/// interface (`ttyUSB*` under a usb-serial port, `ttyACM*` directly under the interface). The USB device
/// directory that holds `idVendor`, `idProduct`, `serial`, `manufacturer` and `product` is found by walking up
/// from there. The port is always `/dev/<name>`: `root` only relocates sysfs, so tests can use a fake tree.
#[derive(Debug, Clone)]
pub struct SysfsUsbSerial {
    /// The filesystem root sysfs is under (`/` on a real system).
    pub root: PathBuf,
}

impl Default for SysfsUsbSerial {
    fn default() -> Self {
        SysfsUsbSerial { root: "/".into() }
    }
}

/// How many directories above the tty's device the USB device may be (usb-serial port → interface → device).
const MAX_HOPS: usize = 3;

impl SysfsUsbSerial {
    /// The source for sysfs under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        SysfsUsbSerial { root: root.into() }
    }

    fn device(&self, root: &Path, name: &str, entry: &Path) -> Option<AttachedDevice> {
        let device = std::fs::canonicalize(entry.join("device")).ok()?;
        let usb_dir = device
            .ancestors()
            .take(MAX_HOPS + 1)
            .find(|dir| dir.join("idVendor").is_file() && dir.join("idProduct").is_file())?;
        let hex = |file: &str| u16::from_str_radix(&read_attr(usb_dir, file)?, 16).ok();
        let (Some(vid), Some(pid)) = (hex("idVendor"), hex("idProduct")) else {
            tracing::debug!(dir = %usb_dir.display(), "unreadable USB ids; skipped");
            return None;
        };
        let relative = device.strip_prefix(root).unwrap_or(&device);
        Some(AttachedDevice {
            id: format!("usb:/{}", relative.display()),
            transport: Transport::Serial {
                port: format!("/dev/{name}"),
            },
            usb: Some(UsbIdentity {
                vid,
                pid,
                serial: read_attr(usb_dir, "serial"),
                manufacturer: read_attr(usb_dir, "manufacturer"),
                product: read_attr(usb_dir, "product"),
            }),
            source: Source::Usb,
            simulator_pid: None,
        })
    }
}

/// A sysfs attribute, trimmed; `None` if missing, unreadable or empty.
fn read_attr(dir: &Path, name: &str) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(name)).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

impl DeviceSource for SysfsUsbSerial {
    fn name(&self) -> &'static str {
        "sysfs"
    }

    /// A missing `sys/class/tty` (no sysfs, or a fake root without it) is an empty list, not an error.
    fn scan(&self) -> Result<Vec<AttachedDevice>, DiscoveryError> {
        let class = self.root.join("sys/class/tty");
        let unreadable = |error| {
            DiscoveryError::Unreadable {
            path: class.clone(),
            error,
            help: "Temper reads sysfs to find USB-serial devices: run it where /sys is mounted and readable",
        }
        };
        let entries = match std::fs::read_dir(&class) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(unreadable(e)),
        };
        let root = std::fs::canonicalize(&self.root).unwrap_or_else(|_| self.root.clone());
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(unreadable)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            found.extend(self.device(&root, &name, &entry.path()));
        }
        found.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    const BUS: &str = "sys/devices/pci0000:00/0000:00:14.0/usb1";

    fn write(dir: &Path, attrs: &[(&str, &str)]) {
        std::fs::create_dir_all(dir).unwrap();
        for (name, value) in attrs {
            std::fs::write(dir.join(name), format!("{value}\n")).unwrap();
        }
    }

    /// Lays out a tty the way the kernel does: the class link, the tty dir and its `device` link.
    fn tty(root: &Path, name: &str, device_dir: &str) {
        let tty_dir = root.join(device_dir).join("tty").join(name);
        std::fs::create_dir_all(&tty_dir).unwrap();
        symlink(
            "../../../".to_string() + device_dir.rsplit('/').next().unwrap(),
            tty_dir.join("device"),
        )
        .unwrap();
        std::fs::create_dir_all(root.join("sys/class/tty")).unwrap();
        symlink(
            format!("../../{}/tty/{name}", device_dir.trim_start_matches("sys/")),
            root.join("sys/class/tty").join(name),
        )
        .unwrap();
    }

    /// A CP2102 (`ttyUSB0` under a usb-serial port), a CDC-ACM board (`ttyACM0` under the interface), a
    /// platform UART and a virtual console: only the two USB ones are listed, with their descriptors.
    fn fake_tree() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        write(
            &r.join(BUS).join("1-1"),
            &[
                ("idVendor", "10c4"),
                ("idProduct", "ea60"),
                ("serial", "0001"),
                ("manufacturer", "Silicon Labs"),
                ("product", "CP2102 USB to UART Bridge Controller"),
            ],
        );
        write(
            &r.join(BUS).join("1-1/1-1:1.0"),
            &[("bInterfaceNumber", "00")],
        );
        std::fs::create_dir_all(r.join(BUS).join("1-1/1-1:1.0/ttyUSB0")).unwrap();
        tty(r, "ttyUSB0", &format!("{BUS}/1-1/1-1:1.0/ttyUSB0"));
        write(
            &r.join(BUS).join("1-2"),
            &[("idVendor", "2fe3"), ("idProduct", "0100")],
        );
        write(
            &r.join(BUS).join("1-2/1-2:1.0"),
            &[("bInterfaceNumber", "00")],
        );
        tty(r, "ttyACM0", &format!("{BUS}/1-2/1-2:1.0"));
        std::fs::create_dir_all(r.join("sys/devices/platform/serial8250")).unwrap();
        tty(r, "ttyS0", "sys/devices/platform/serial8250");
        std::fs::create_dir_all(r.join("sys/devices/virtual/tty/tty0")).unwrap();
        symlink(
            "../../devices/virtual/tty/tty0",
            r.join("sys/class/tty/tty0"),
        )
        .unwrap();
        root
    }

    #[test]
    fn lists_usb_serial_ttys_with_their_descriptors() {
        let root = fake_tree();
        let found = SysfsUsbSerial::new(root.path())
            .scan()
            .expect("fake sysfs scans");
        let summary: Vec<(String, Option<&str>, Option<&str>)> = found
            .iter()
            .map(|d| (d.id.clone(), d.port(), d.serial()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    format!("usb:/{BUS}/1-1/1-1:1.0/ttyUSB0"),
                    Some("/dev/ttyUSB0"),
                    Some("0001")
                ),
                (
                    format!("usb:/{BUS}/1-2/1-2:1.0"),
                    Some("/dev/ttyACM0"),
                    None
                ),
            ],
            "only ttys whose device is under a USB device are listed; ttyS0 and tty0 are not"
        );
        let cp2102 = found[0].usb.as_ref().unwrap();
        assert_eq!((cp2102.vid, cp2102.pid), (0x10c4, 0xea60));
        assert_eq!(cp2102.manufacturer.as_deref(), Some("Silicon Labs"));
        assert_eq!(
            cp2102.product.as_deref(),
            Some("CP2102 USB to UART Bridge Controller")
        );
        assert_eq!(
            found[1].usb.as_ref().unwrap().product,
            None,
            "a missing string is None"
        );
        assert_eq!(found[0].source, Source::Usb);
    }

    #[test]
    fn no_sysfs_is_an_empty_list() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(SysfsUsbSerial::new(root.path()).scan().unwrap(), vec![]);
    }

    /// The real /sys must scan without error (this kernel has no USB: then the list is empty).
    #[test]
    fn real_sysfs_scans() {
        let found = SysfsUsbSerial::default()
            .scan()
            .expect("the real sysfs scans");
        assert!(
            found.iter().all(|d| d.id.starts_with("usb:/sys/")),
            "{found:?}"
        );
    }
}
