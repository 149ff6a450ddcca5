// Generated from the Rust types in crates/temper-api by ts-rs. Do not edit.
// Regenerate: TEMPER_UPDATE_TYPES=1 cargo test -p temper-api typescript

export type ErrorCode = "locked" | "no-inventory" | "wrong-key" | "too-many-attempts" | "weak-passphrase" | "device-lost" | "device-incompatible" | "device-misbehaved" | "not-found" | "invalid" | "busy" | "bluetooth" | "passkey" | "bad-backup" | "internal";

export type ApiError = { 
/**
 * What kind of failure.
 */
code: ErrorCode, 
/**
 * What happened, in plain words.
 */
message: string, 
/**
 * What to do next.
 */
help: string | null, 
/**
 * Seconds until the next unlock may be tried (after repeated wrong keys), else null.
 */
retry_after_secs: number | null, };

export type AppInfo = { 
/**
 * Temper's version.
 */
version: string, 
/**
 * The inventory file.
 */
inventory: string, 
/**
 * Where reports and exports are saved.
 */
reportsDir: string, 
/**
 * True when "Try with a simulated device" is offered.
 */
simulatorAllowed: boolean, };

export type LockStatus = { 
/**
 * The inventory file.
 */
path: string, 
/**
 * False until the first inventory is created.
 */
exists: boolean, 
/**
 * True while unlocked.
 */
unlocked: boolean, 
/**
 * True when the keyring can unlock it (so the screen offers that first).
 */
keyring_slot: boolean, 
/**
 * Seconds of inactivity after which the app locks it again.
 */
idle_lock_secs: number, };

export type Strength = { 
/**
 * 0 (guessed at once) to 4 (very hard to guess).
 */
score: number, 
/**
 * True when the inventory would accept it.
 */
acceptable: boolean, 
/**
 * What would make it stronger, in plain words.
 */
feedback: Array<string>, };

export type Unlock = { "method": "keyring" } | { "method": "passphrase", 
/**
 * The passphrase (zeroized after use).
 */
passphrase: string, };

export type DeviceView = { 
/**
 * Discovery's stable id while plugged in.
 */
id: string, 
/**
 * How it is connected, in words: "USB serial", "Simulated USB" or "Bluetooth LE".
 */
connection: string, 
/**
 * The port path, for serial devices.
 */
port: string | null, 
/**
 * The USB serial number, if any.
 */
serial: string | null, 
/**
 * `vvvv:pppp`, if USB.
 */
usb_id: string | null, 
/**
 * What the USB descriptor calls it, or the name a Bluetooth LE device advertises.
 */
product: string | null, 
/**
 * The Bluetooth address (`AA:BB:CC:DD:EE:FF`), for a Bluetooth LE device.
 */
address: string | null, 
/**
 * The signal strength in dBm, for a Bluetooth LE device (when the adapter reports it).
 */
rssi: number | null, 
/**
 * True when securing it needs the 6-digit passkey from its label: its profile pairs by passkey and
 * gives no model-wide one.
 */
needs_passkey: boolean, 
/**
 * The recognised profile's id.
 */
profile_id: string | null, 
/**
 * The model's name, or "Unknown device".
 */
model: string, 
/**
 * Why it is unknown, or what is still to confirm (several models share the USB id).
 */
note: string | null, 
/**
 * True for a simulator.
 */
simulated: boolean, 
/**
 * The simulator's process id (to unplug it).
 */
simulator_pid: number | null, };

export type BluetoothView = { 
/**
 * One of `starting`, `on`, `off`, `no-adapter`, `unavailable`, `disabled`.
 */
state: string, 
/**
 * What to tell the person, or null when Bluetooth works.
 */
message: string | null, 
/**
 * What the system said (for the technical-detail fold), if anything.
 */
detail: string | null, };

export type StepTitle = { 
/**
 * Stable step id, e.g. `rotate-credentials`.
 */
step: string, 
/**
 * What it does, in plain words.
 */
title: string, };

export type RunEvent = { "kind": "started", 
/**
 * The steps.
 */
steps: Array<StepTitle>, } | { "kind": "identified", 
/**
 * Its serial number.
 */
serial: string, 
/**
 * Its model.
 */
model: string, 
/**
 * Its firmware version.
 */
firmware: string, 
/**
 * True when Temper had seen it before (the run resumes).
 */
known: boolean, } | { "kind": "step-started", 
/**
 * Step id.
 */
step: string, 
/**
 * Plain words.
 */
title: string, } | { "kind": "activity", 
/**
 * Step id.
 */
step: string, 
/**
 * Plain words, ending with "…" while it goes on.
 */
text: string, } | { "kind": "check", 
/**
 * Check id.
 */
id: string, 
/**
 * What was checked.
 */
subject: string, 
/**
 * True when the device passed.
 */
passed: boolean, 
/**
 * What was seen.
 */
detail: string, 
/**
 * The guideline items it proves.
 */
guideline: Array<string>, } | { "kind": "step-finished", 
/**
 * Step id.
 */
step: string, 
/**
 * False when it failed.
 */
ok: boolean, 
/**
 * True when there was nothing to do (a resumed run).
 */
skipped: boolean, 
/**
 * Why it failed.
 */
message: string | null, } | { "kind": "finished", 
/**
 * True when every step succeeded and every check passed.
 */
hardened: boolean, 
/**
 * The device's serial.
 */
serial: string, } | { "kind": "failed", 
/**
 * What went wrong.
 */
error: ApiError, };

export type JobEvent = { 
/**
 * The run.
 */
job: number, 
/**
 * The attached device it runs on (its discovery id).
 */
device: string, 
/**
 * What happened.
 */
event: RunEvent, };

export type InventoryRow = { 
/**
 * Serial number.
 */
serial: string, 
/**
 * Model.
 */
model: string, 
/**
 * Firmware version.
 */
firmware: string, 
/**
 * Site label, if any.
 */
site: string | null, 
/**
 * `new`, `in-progress`, `hardened` or `failed`.
 */
state: string, 
/**
 * Network address, if known.
 */
address: string | null, 
/**
 * notAfter of the active certificate (Unix seconds).
 */
certificate_expires: number | null, 
/**
 * Days until the active certificate expires (negative: expired).
 */
certificate_days_left: number | null, 
/**
 * Age in days of the oldest current credential.
 */
credential_age_days: number | null, 
/**
 * The expiry policy in days (the profile's, tightened by settings), if any.
 */
credential_max_age_days: number | null, 
/**
 * True when a credential is older than the policy allows: rotate it.
 */
credential_expired: boolean, 
/**
 * When the record last changed (Unix seconds).
 */
updated_at: number, };

export type CertificateView = { 
/**
 * SHA-256 fingerprint (hex).
 */
fingerprint: string, 
/**
 * `pending`, `active`, `revoked` or `superseded`.
 */
state: string, 
/**
 * notAfter (Unix seconds).
 */
not_after: number, };

export type CredentialView = { 
/**
 * Store id.
 */
store: string, 
/**
 * Account name.
 */
username: string, 
/**
 * When the current credential was set (Unix seconds).
 */
changed_at: number | null, 
/**
 * True while a new credential waits for confirmation.
 */
pending: boolean, };

export type RevealedCredential = { 
/**
 * Store id.
 */
store: string, 
/**
 * Account name.
 */
username: string, 
/**
 * The current password.
 */
password: string, };

export type CheckView = { 
/**
 * `baseline` or `verify`.
 */
phase: string, 
/**
 * Check id.
 */
id: string, 
/**
 * What was checked.
 */
subject: string, 
/**
 * True when the device passed.
 */
passed: boolean, 
/**
 * What was seen.
 */
detail: string, 
/**
 * Guideline items it proves.
 */
guideline: Array<string>, };

export type AuditRow = { 
/**
 * Sequence number.
 */
seq: number, 
/**
 * When (Unix seconds).
 */
at: number, 
/**
 * Who.
 */
actor: string, 
/**
 * What, e.g. `commission`, `reveal`.
 */
action: string, 
/**
 * The device, if any.
 */
device: string | null, 
/**
 * How it ended.
 */
outcome: string, 
/**
 * Extra facts as compact JSON (never a secret).
 */
detail: string, };

export type DevicePage = { 
/**
 * The table row.
 */
row: InventoryRow, 
/**
 * The profile that hardened it.
 */
profile_id: string, 
/**
 * Recorded steps: (step id, "done" or the failure).
 */
steps: Array<[string, string]>, 
/**
 * Outside checks.
 */
checks: Array<CheckView>, 
/**
 * Certificates, oldest first.
 */
certificates: Array<CertificateView>, 
/**
 * Credential stores.
 */
credentials: Array<CredentialView>, 
/**
 * Its audit events, oldest first.
 */
history: Array<AuditRow>, };

export type AuditPage = { 
/**
 * Events, oldest first.
 */
events: Array<AuditRow>, 
/**
 * True when the hash chain, the MACs and the signed head all check out.
 */
intact: boolean, 
/**
 * What is wrong when not intact.
 */
problem: string | null, };

export type Settings = { 
/**
 * Minimum length of generated passwords (at least each profile's own minimum, at most 64).
 */
password_min_length: number | null, 
/**
 * Passwords expire after this many days (at most each profile's own expiry).
 */
password_max_age_days: number | null, 
/**
 * Minutes without use after which the inventory locks again (1–240).
 */
idle_lock_minutes: number, 
/**
 * The key type devices make for their certificates ("ecdsa-p256", "ecdsa-p384", "ed25519",
 * "rsa-2048"...), one every profile with a certificate allows; `null`: each profile's default.
 */
certificate_key: string | null, };

export type BackupFile = { 
/**
 * The file name (what [`App::restore_backup`] takes).
 */
name: string, 
/**
 * Size in bytes.
 */
size: number, 
/**
 * When it was last written (Unix seconds).
 */
modified: number, };

export type RestoreResult = { 
/**
 * The backup restored.
 */
restored: string, 
/**
 * Where the inventory that was replaced is kept (its database file; its key header and audit sidecar
 * sit beside it with the same name plus `.keys` and `.audit`).
 */
kept_aside: string, 
/**
 * Devices in the restored inventory.
 */
devices: number, 
/**
 * Audit events in the restored trail (verified), before the restore's own event.
 */
audit_events: number, };

