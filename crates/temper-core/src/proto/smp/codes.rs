//! Names of SMP management groups and of their group error codes (the `rc` of an SMP v2 `err` map), as
//! Zephyr's headers name them (`include/zephyr/mgmt/mcumgr/grp/*/*.h`), for messages people read.

/// A short name of management group `group` ("image", "settings", ...).
pub fn group_name(group: u64) -> &'static str {
    match group {
        0 => "OS",
        1 => "image",
        2 => "statistics",
        3 => "settings",
        4 => "log",
        5 => "crash",
        6 => "split image",
        7 => "run",
        8 => "file system",
        9 => "shell",
        10 => "enumeration",
        63 => "Zephyr basic",
        64.. => "application-defined",
        _ => "unknown",
    }
}

/// Zephyr's name for group error `rc` of group `group` (without the group's prefix, e.g. `KEY_NOT_FOUND`
/// for `SETTINGS_MGMT_ERR_KEY_NOT_FOUND`); "unknown" for a code the group does not define.
pub fn group_rc_name(group: u64, rc: u64) -> &'static str {
    let table: &[&'static str] = match group {
        0 => OS,
        1 => IMAGE,
        3 => SETTINGS,
        9 => SHELL,
        10 => ENUMERATION,
        _ => &["OK", "UNKNOWN"],
    };
    usize::try_from(rc)
        .ok()
        .and_then(|i| table.get(i))
        .copied()
        .unwrap_or("unknown")
}

/// `OS_MGMT_ERR_*`.
const OS: &[&str] = &[
    "OK",
    "UNKNOWN",
    "INVALID_FORMAT",
    "QUERY_YIELDS_NO_ANSWER",
    "RTC_NOT_SET",
    "RTC_COMMAND_FAILED",
    "QUERY_RESPONSE_VALUE_NOT_VALID",
    "HEAP_STATS_FETCH_FAILED",
];

/// `IMG_MGMT_ERR_*`.
const IMAGE: &[&str] = &[
    "OK",
    "UNKNOWN",
    "FLASH_CONFIG_QUERY_FAIL",
    "NO_IMAGE",
    "NO_TLVS",
    "INVALID_TLV",
    "TLV_MULTIPLE_HASHES_FOUND",
    "TLV_INVALID_SIZE",
    "HASH_NOT_FOUND",
    "NO_FREE_SLOT",
    "FLASH_OPEN_FAILED",
    "FLASH_READ_FAILED",
    "FLASH_WRITE_FAILED",
    "FLASH_ERASE_FAILED",
    "INVALID_SLOT",
    "NO_FREE_MEMORY",
    "FLASH_CONTEXT_ALREADY_SET",
    "FLASH_CONTEXT_NOT_SET",
    "FLASH_AREA_DEVICE_NULL",
    "INVALID_PAGE_OFFSET",
    "INVALID_OFFSET",
    "INVALID_LENGTH",
    "INVALID_IMAGE_HEADER",
    "INVALID_IMAGE_HEADER_MAGIC",
    "INVALID_HASH",
    "INVALID_FLASH_ADDRESS",
    "VERSION_GET_FAILED",
    "CURRENT_VERSION_IS_NEWER",
    "IMAGE_ALREADY_PENDING",
    "INVALID_IMAGE_VECTOR_TABLE",
    "INVALID_IMAGE_TOO_LARGE",
    "INVALID_IMAGE_DATA_OVERRUN",
    "IMAGE_CONFIRMATION_DENIED",
    "IMAGE_SETTING_TEST_TO_ACTIVE_DENIED",
];

/// `SETTINGS_MGMT_ERR_*`.
const SETTINGS: &[&str] = &[
    "OK",
    "UNKNOWN",
    "KEY_TOO_LONG",
    "KEY_NOT_FOUND",
    "READ_NOT_SUPPORTED",
    "ROOT_KEY_NOT_FOUND",
    "WRITE_NOT_SUPPORTED",
    "DELETE_NOT_SUPPORTED",
];

/// `SHELL_MGMT_RET_RC_*`.
const SHELL: &[&str] = &["OK", "UNKNOWN", "COMMAND_TOO_LONG", "EMPTY_COMMAND"];

/// `ENUM_MGMT_ERR_*`.
const ENUMERATION: &[&str] = &[
    "OK",
    "UNKNOWN",
    "TOO_MANY_GROUP_ENTRIES",
    "INSUFFICIENT_HEAP_FOR_ENTRIES",
    "INDEX_TOO_LARGE",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smp_group_and_rc_names() {
        assert_eq!(group_name(3), "settings");
        assert_eq!(group_rc_name(3, 3), "KEY_NOT_FOUND");
        assert_eq!(group_rc_name(1, 9), "NO_FREE_SLOT");
        assert_eq!(group_rc_name(1, 33), "IMAGE_SETTING_TEST_TO_ACTIVE_DENIED");
        assert_eq!(group_rc_name(1, 34), "unknown");
        assert_eq!(group_rc_name(9, 3), "EMPTY_COMMAND");
        assert_eq!(group_rc_name(10, 4), "INDEX_TOO_LARGE");
        assert_eq!(group_rc_name(0, 4), "RTC_NOT_SET");
        assert_eq!(group_rc_name(77, 1), "UNKNOWN");
        assert_eq!(group_rc_name(77, 2), "unknown");
        assert_eq!(group_rc_name(1, u64::MAX), "unknown");
        assert_eq!(group_name(64), "application-defined");
        assert_eq!(group_name(20), "unknown");
    }
}
