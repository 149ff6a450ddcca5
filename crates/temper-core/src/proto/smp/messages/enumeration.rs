//! Enumeration management group (10): which management groups the device supports (Zephyr
//! `grp/enum_mgmt/src/enum_mgmt.c`, `CONFIG_MCUMGR_GRP_ENUM`). A device without it answers rc 8 (ENOTSUP).

use serde::{Deserialize, Serialize};

use super::{Request, GROUP_ENUM};
use crate::proto::smp::header::Op;

/// Group count (10/0, read): `{}` → `{"count": n}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupCount {}

/// Reply to [`GroupCount`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupCountResponse {
    /// How many groups the device supports.
    pub count: u32,
}

impl Request for GroupCount {
    const GROUP: u16 = GROUP_ENUM;
    const ID: u8 = 0;
    const OP: Op = Op::Read;
    type Response = GroupCountResponse;
}

/// Group list (10/1, read): `{}` → `{"groups": [id, ...]}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupList {}

/// Reply to [`GroupList`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupListResponse {
    /// The supported group ids, in the device's registration order.
    pub groups: Vec<u16>,
}

impl Request for GroupList {
    const GROUP: u16 = GROUP_ENUM;
    const ID: u8 = 1;
    const OP: Op = Op::Read;
    type Response = GroupListResponse;
}

/// One group by index (10/2, read): `{"index": i}` → `{"group": id, "end": true?}`. An index past the last
/// group gets enumeration error 4 (INDEX_TOO_LARGE).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSingle {
    /// 0-based index; `None` for the first group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
}

/// Reply to [`GroupSingle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSingleResponse {
    /// The group id at that index.
    pub group: u16,
    /// True for the last group (left out otherwise).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub end: bool,
}

impl Request for GroupSingle {
    const GROUP: u16 = GROUP_ENUM;
    const ID: u8 = 2;
    const OP: Op = Op::Read;
    type Response = GroupSingleResponse;
}

/// Group details (10/3, read, `CONFIG_MCUMGR_GRP_ENUM_DETAILS`): `{"groups": [id, ...]?}` →
/// `{"groups": [{"group", "name"?, "handlers"?}, ...]}`; without `groups`, every group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDetails {
    /// The groups to describe; `None` for all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<u16>>,
}

/// Reply to [`GroupDetails`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDetailsResponse {
    /// One entry per group described.
    pub groups: Vec<GroupDetail>,
}

/// One entry of [`GroupDetailsResponse::groups`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDetail {
    /// The group id.
    pub group: u16,
    /// Its name (`CONFIG_MCUMGR_GRP_ENUM_DETAILS_NAME`), e.g. "settings mgmt".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// How many command handlers it has (`CONFIG_MCUMGR_GRP_ENUM_DETAILS_HANDLERS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handlers: Option<u32>,
}

impl Request for GroupDetails {
    const GROUP: u16 = GROUP_ENUM;
    const ID: u8 = 3;
    const OP: Op = Op::Read;
    type Response = GroupDetailsResponse;
}
