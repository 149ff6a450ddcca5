//! The camera's SSDP identity for the shared responder ([`crate::wire::ssdp`]): its UUID, the Basic device type,
//! the description at `http://IP/description.xml`, `ssdp-search` events.

use std::net::SocketAddr;

use serde_json::json;

use super::http::DEVICE_TYPE;
use crate::ipcam::Device;
pub use crate::wire::ssdp::serve;
use crate::wire::ssdp::Announcer;

impl Announcer for Device {
    fn uuid(&self) -> String {
        Device::uuid(self)
    }

    fn device_type(&self) -> &str {
        DEVICE_TYPE
    }

    fn location(&self) -> String {
        format!("http://{}/description.xml", self.ip)
    }

    fn server(&self) -> String {
        self.variant().ssdp_server()
    }

    fn boot_id(&self) -> u64 {
        Device::boot_id(self)
    }

    fn searched(&self, st: &str, from: SocketAddr, answered: bool) {
        self.events.log(
            "ssdp-search",
            json!({"st": st, "from": from.to_string(), "answered": answered}),
        );
    }
}
