// Typed wrappers around the Tauri commands and events: the only module that calls invoke or listen.

import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type {
  ApiError, AppInfo, AuditPage, BackupFile, BluetoothView, DevicePage, DeviceView, InventoryRow, JobEvent, LockStatus,
  RestoreResult, RevealedCredential, Settings, Strength, Unlock,
} from './generated/types';

/** Any rejection as an ApiError (the backend always sends one; anything else is wrapped). */
export function asApiError(e: unknown): ApiError {
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) {
    const { code, message, help, retry_after_secs: retry } = e as ApiError;
    return { code, message: String(message), help: help ?? null, retry_after_secs: typeof retry === 'number' ? retry : null };
  }
  return { code: 'internal', message: e instanceof Error ? e.message : String(e), help: null, retry_after_secs: null };
}

let onLocked: () => void = () => {};
/** Called whenever a command answers that the inventory is locked. */
export function whenLocked(handler: () => void): void {
  onLocked = handler;
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    const error = asApiError(e);
    if (error.code === 'locked') onLocked();
    throw error;
  }
}

export const api = {
  appInfo: () => call<AppInfo>('app_info'),
  lockStatus: () => call<LockStatus>('lock_status'),
  passphraseStrength: (passphrase: string) => call<Strength>('passphrase_strength', { passphrase }),
  createInventory: (unlock: Unlock) => call<string>('create_inventory', { unlock }),
  unlockInventory: (unlock: Unlock) => call<null>('unlock_inventory', { unlock }),
  lockInventory: () => call<null>('lock_inventory'),
  listDevices: () => call<DeviceView[]>('list_devices'),
  bluetoothState: () => call<BluetoothView>('bluetooth_state'),
  /** `passkey`: the 6 digits from a Bluetooth LE device's label, when it pairs by passkey (sent, never kept). */
  secureDevice: (deviceId: string, site: string | null, passkey: string | null = null) =>
    call<number>('secure_device', { deviceId, site, passkey }),
  rotateCredentialsNow: (serial: string) => call<number>('rotate_credentials_now', { serial }),
  renewCertificate: (serial: string) => call<number>('renew_certificate', { serial }),
  inventoryRows: (query: string) => call<InventoryRow[]>('inventory_rows', { query }),
  devicePage: (serial: string) => call<DevicePage>('device_page', { serial }),
  revealCredentials: (serial: string) => call<RevealedCredential[]>('reveal_credentials', { serial }),
  credentialLabel: (serial: string, store: string) => call<string>('credential_label', { serial, store }),
  auditPage: () => call<AuditPage>('audit_page'),
  saveHandoverReport: (site: string | null, serials: string[]) => call<string>('save_handover_report', { site, serials }),
  getSettings: () => call<Settings>('get_settings'),
  saveSettings: (settings: Settings) => call<Settings>('save_settings', { settings }),
  exportCa: () => call<string>('export_ca'),
  backupInventory: () => call<string>('backup_inventory'),
  listBackups: () => call<BackupFile[]>('list_backups'),
  restoreBackup: (fileName: string, unlock: Unlock) => call<RestoreResult>('restore_backup', { fileName, unlock }),
  plugSimulatedDevice: (model: string) => call<number>('plug_simulated_device', { model }),
  unplugSimulatedDevice: (pid: number) => call<null>('unplug_simulated_device', { pid }),
};

export const events = {
  devicesChanged: (f: (devices: DeviceView[]) => void): Promise<UnlistenFn> =>
    listen<DeviceView[]>('devices://changed', (e) => f(e.payload)),
  bluetoothChanged: (f: (bluetooth: BluetoothView) => void): Promise<UnlistenFn> =>
    listen<BluetoothView>('bluetooth://changed', (e) => f(e.payload)),
  runEvent: (f: (event: JobEvent) => void): Promise<UnlistenFn> => listen<JobEvent>('run://event', (e) => f(e.payload)),
  sessionLocked: (f: () => void): Promise<UnlistenFn> => listen<unknown>('session://locked', () => f()),
};
