//! The Nordic UART Service of the ble-plug, carrying the Zephyr shell as a byte stream (Zephyr's
//! `CONFIG_SHELL_BT_NUS` backend): the same interpreter as the telnet shell and the SMP shell group
//! ([`crate::zephyr::shell::run_line`]) on the same firmware state.
//!
//! - RX (`write`, `write-without-response`): a terminal's keystrokes. Bytes are gathered until CR or LF (CR LF
//!   counts as one end; a line may span writes, a write may hold several lines); backspace / DEL erase, other
//!   control bytes are ignored, a line keeps at most [`CMD_BUFF_SIZE`] − 1 characters. Nothing is echoed.
//!   Writes obey the peripheral's access rules ([`super::pairing::check_write`]), as SMP writes do.
//! - TX (`notify`, with a CCCD): each line's output with "\r\n" line endings, then the prompt [`PROMPT`]; an
//!   empty line gets the prompt alone. Subscribing (StartNotify) sends the prompt once.
//!
//! Notifications share the peripheral's radio link with SMP ([`super::link`]): its slots, MTU − 3 byte
//! chunks, and a drop loses what was not sent (and a line being typed).

use std::collections::HashMap;
use std::sync::Arc;

use zbus::object_server::SignalContext;
use zbus::zvariant::{OwnedObjectPath, OwnedValue};
use zbus::Connection;

use super::bluez::BluezError;
use super::gatt::GattError;
use super::host::Host;
use super::link::RadioLink;
use super::objects::{owned, InterfaceMap};
use super::peripherals::Peripheral;
use crate::zephyr::net::telnet::PROMPT;
use crate::zephyr::shell::CMD_BUFF_SIZE;
use crate::zephyr::Shared;

/// The Nordic UART Service.
pub const NUS_SERVICE: &str = "6e400001-b5a3-f393-e0a9-e50e24dcca9e";
/// Its RX characteristic (central → peripheral).
pub const NUS_RX: &str = "6e400002-b5a3-f393-e0a9-e50e24dcca9e";
/// Its TX characteristic (peripheral → central).
pub const NUS_TX: &str = "6e400003-b5a3-f393-e0a9-e50e24dcca9e";

/// Object paths of the service, RX, TX and TX's CCCD under `device`.
pub fn nus_paths(device: &str) -> (String, String, String, String) {
    let service = format!("{device}/service0030");
    let rx = format!("{service}/char0031");
    let tx = format!("{service}/char0033");
    let cccd = format!("{tx}/desc0035");
    (service, rx, tx, cccd)
}

fn characteristic_props(
    uuid: &str,
    service: &OwnedObjectPath,
    value: Vec<u8>,
    notifying: bool,
    flags: Vec<String>,
    mtu: u16,
) -> InterfaceMap {
    let props = HashMap::from([
        ("UUID".to_string(), owned(uuid.into())),
        ("Service".into(), owned(service.clone().into())),
        ("Value".into(), owned(value.into())),
        ("Notifying".into(), owned(notifying.into())),
        ("Flags".into(), owned(flags.into())),
        ("MTU".into(), owned(mtu.into())),
    ]);
    HashMap::from([("org.bluez.GattCharacteristic1".to_string(), props)])
}

fn rx_flags() -> Vec<String> {
    vec!["write".into(), "write-without-response".into()]
}

fn tx_flags() -> Vec<String> {
    vec!["notify".into()]
}

/// What a line typed on the shell gives: its output with "\r\n" endings, then the prompt.
pub fn render(output: &str) -> Vec<u8> {
    let mut out = output.replace("\r\n", "\n").replace('\n', "\r\n");
    out.push_str(PROMPT);
    out.into_bytes()
}

/// A terminal's line editor without echo: bytes in, complete lines out.
#[derive(Debug, Default)]
pub struct LineBuffer {
    line: String,
    after_cr: bool,
}

impl LineBuffer {
    /// Takes `bytes`; returns the lines they complete, in order (empty ones included).
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        for &b in bytes {
            let was_cr = std::mem::replace(&mut self.after_cr, b == b'\r');
            match b {
                b'\n' if was_cr => {}
                b'\r' | b'\n' => lines.push(std::mem::take(&mut self.line)),
                0x08 | 0x7f => {
                    self.line.pop();
                }
                0x20..=0x7e if self.line.len() < CMD_BUFF_SIZE - 1 => self.line.push(char::from(b)),
                _ => {}
            }
        }
        lines
    }

    /// Forgets a line being typed (a new connection).
    pub fn clear(&mut self) {
        self.line.clear();
        self.after_cr = false;
    }
}

/// `org.bluez.GattCharacteristic1` of NUS RX: the shell's input.
pub struct NusRx {
    pub service: OwnedObjectPath,
    /// TX's object path, where the output goes.
    pub tx: String,
    pub link: Arc<RadioLink>,
    pub firmware: Shared,
    /// The adapter this object is under (whose bonds count) and the peripheral (whose rules apply).
    pub host: Host,
    pub peripheral: Peripheral,
    input: LineBuffer,
    /// The connection (epoch) the pending input came in on.
    epoch: Option<u64>,
}

impl NusRx {
    pub fn new(
        service: OwnedObjectPath,
        tx: String,
        link: Arc<RadioLink>,
        firmware: Shared,
        host: Host,
        peripheral: Peripheral,
    ) -> NusRx {
        NusRx {
            service,
            tx,
            link,
            firmware,
            host,
            peripheral,
            input: LineBuffer::default(),
            epoch: None,
        }
    }

    pub fn interfaces(&self) -> InterfaceMap {
        characteristic_props(
            NUS_RX,
            &self.service,
            Vec::new(),
            false,
            rx_flags(),
            self.link.params.mtu,
        )
    }
}

#[zbus::interface(name = "org.bluez.GattCharacteristic1")]
impl NusRx {
    async fn read_value(
        &self,
        _options: HashMap<String, OwnedValue>,
    ) -> Result<Vec<u8>, BluezError> {
        Err(BluezError::NotPermitted("Read not permitted".into()))
    }

    /// Takes one ATT write (at most MTU − 3 bytes) in the central's next slot; runs each line it completes
    /// and notifies the output and the prompt on TX.
    async fn write_value(
        &mut self,
        value: Vec<u8>,
        _options: HashMap<String, OwnedValue>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<(), GattError> {
        let link = self.link.clone();
        let epoch = super::gatt::admit_write(
            &link,
            &self.host,
            &self.peripheral,
            &self.firmware,
            value.len(),
        )
        .await?;
        if self.epoch != Some(epoch) {
            self.input.clear();
            self.epoch = Some(epoch);
        }
        for line in self.input.feed(&value) {
            let output = if line.trim().is_empty() {
                String::new()
            } else {
                crate::zephyr::shell::run_line(&self.firmware, &line)
                    .await
                    .text
            };
            link.notify(conn, &self.tx, epoch, render(&output));
        }
        Ok(())
    }

    async fn start_notify(&self) -> Result<(), BluezError> {
        Err(BluezError::NotSupported(
            "Operation is not supported".into(),
        ))
    }

    async fn stop_notify(&self) -> Result<(), BluezError> {
        Err(BluezError::NotSupported(
            "Operation is not supported".into(),
        ))
    }

    #[zbus(property, name = "UUID")]
    fn uuid(&self) -> String {
        NUS_RX.into()
    }
    #[zbus(property)]
    fn service(&self) -> OwnedObjectPath {
        self.service.clone()
    }
    #[zbus(property)]
    fn value(&self) -> Vec<u8> {
        Vec::new()
    }
    #[zbus(property)]
    fn notifying(&self) -> bool {
        false
    }
    #[zbus(property)]
    fn flags(&self) -> Vec<String> {
        rx_flags()
    }
    #[zbus(property, name = "MTU")]
    fn mtu(&self) -> u16 {
        self.link.params.mtu
    }
}

/// `org.bluez.GattCharacteristic1` of NUS TX: the shell's output, as notifications.
pub struct NusTx {
    /// Its own object path (its notifications' state on the link is kept under it).
    pub path: String,
    pub service: OwnedObjectPath,
    pub link: Arc<RadioLink>,
}

impl NusTx {
    /// Whether the central subscribed to notifications (the CCCD's value).
    pub fn is_notifying(&self) -> bool {
        self.link.subscribed(&self.path)
    }

    pub fn interfaces(&self) -> InterfaceMap {
        characteristic_props(
            NUS_TX,
            &self.service,
            self.link.value(&self.path),
            self.is_notifying(),
            tx_flags(),
            self.link.params.mtu,
        )
    }
}

#[zbus::interface(name = "org.bluez.GattCharacteristic1")]
impl NusTx {
    async fn read_value(
        &self,
        _options: HashMap<String, OwnedValue>,
    ) -> Result<Vec<u8>, BluezError> {
        Err(BluezError::NotPermitted("Read not permitted".into()))
    }

    async fn write_value(
        &self,
        _value: Vec<u8>,
        _options: HashMap<String, OwnedValue>,
    ) -> Result<(), BluezError> {
        Err(BluezError::NotPermitted("Write not permitted".into()))
    }

    /// Subscribes; the shell greets a new subscription with its prompt.
    async fn start_notify(
        &mut self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(signal_context)] ctxt: SignalContext<'_>,
    ) -> Result<(), GattError> {
        let Some(epoch) = self.link.epoch() else {
            return Err(GattError::NotConnected("Not Connected".into()));
        };
        if self.link.set_subscribed(&self.path, true) {
            self.notifying_changed(&ctxt).await?;
            self.link
                .notify(conn, &self.path, epoch, PROMPT.as_bytes().to_vec());
        }
        Ok(())
    }

    async fn stop_notify(
        &mut self,
        #[zbus(signal_context)] ctxt: SignalContext<'_>,
    ) -> Result<(), GattError> {
        if self.link.set_subscribed(&self.path, false) {
            self.notifying_changed(&ctxt).await?;
        }
        Ok(())
    }

    #[zbus(property, name = "UUID")]
    fn uuid(&self) -> String {
        NUS_TX.into()
    }
    #[zbus(property)]
    fn service(&self) -> OwnedObjectPath {
        self.service.clone()
    }
    #[zbus(property)]
    fn value(&self) -> Vec<u8> {
        self.link.value(&self.path)
    }
    #[zbus(property)]
    fn notifying(&self) -> bool {
        self.is_notifying()
    }
    #[zbus(property)]
    fn flags(&self) -> Vec<String> {
        tx_flags()
    }
    #[zbus(property, name = "MTU")]
    fn mtu(&self) -> u16 {
        self.link.params.mtu
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_span_writes_and_one_write_may_hold_several() {
        let mut b = LineBuffer::default();
        assert!(b.feed(b"app i").is_empty());
        assert_eq!(b.feed(b"nfo\r"), ["app info"]);
        assert_eq!(
            b.feed(b"\nhelp\n\rkernel versiom\x7fn\r"),
            ["help", "", "kernel version"]
        );
        assert_eq!(render("a\nb\n"), b"a\r\nb\r\nuart:~$ ");
        assert_eq!(render(""), b"uart:~$ ");
    }
}
