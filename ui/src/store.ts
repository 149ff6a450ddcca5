// The window's state: attached devices, runs, the mode and what is picked. Views re-render on change.

import { api, asApiError } from './api';
import type { ApiError, AppInfo, BluetoothView, DeviceView, JobEvent } from './generated/types';
import { applyJobEvent, startRun, type RunView, type Runs } from './state/run';
import { autoSelect, pruneSelection, retryTarget, targetOf, type RunTarget } from './state/devices';

export type Mode = 'end-user' | 'installer';

/** One "secure" press: the device, and the job once the backend answered (or why it refused). */
export interface Launch {
  target: RunTarget;
  job: number | null;
  error: ApiError | null;
}

export interface AppState {
  info: AppInfo | null;
  mode: Mode;
  devices: DeviceView[];
  /** The Bluetooth adapter's state (null until the backend said). */
  bluetooth: BluetoothView | null;
  runs: Runs;
  selected: string | null;
  ticked: Set<string>;
  site: string;
  /** End-user mode: the run on screen. */
  active: Launch | null;
  /** Installer mode: the runs started by the last "Secure selected", and the site they were for. */
  batch: Launch[];
  batchSite: string;
  handoverPath: string | null;
  /** End-user mode: the device whose passkey is being asked for before securing it. */
  askPasskey: string | null;
}

export const state: AppState = {
  info: null, mode: 'end-user', devices: [], bluetooth: null, runs: {}, selected: null, ticked: new Set(), site: '',
  active: null, batch: [], batchSite: '', handoverPath: null, askPasskey: null,
};

const listeners = new Set<() => void>();
export function subscribe(f: () => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}
export function changed(): void {
  for (const f of [...listeners]) f();
}

export function setDevices(devices: DeviceView[]): void {
  state.devices = devices;
  state.selected = autoSelect(devices, state.selected);
  state.ticked = pruneSelection(devices, state.ticked);
  changed();
}

export function setBluetooth(bluetooth: BluetoothView): void {
  state.bluetooth = bluetooth;
  changed();
}

export function onJobEvent(event: JobEvent): void {
  state.runs = applyJobEvent(state.runs, event);
  changed();
}

/** The run a launch shows, if the backend gave it a job. */
export function runOf(launch: Launch): RunView | undefined {
  return launch.job === null ? undefined : state.runs[launch.job];
}

/**
 * Asks the backend to secure `device`; `launch` is filled in place as the answer comes. `passkey` (a BLE
 * device's 6 digits) goes to the backend only: it is not kept here.
 */
export async function launch(device: DeviceView, site: string | null, into: Launch, passkey: string | null = null): Promise<void> {
  into.target = targetOf(device, device.id, null);
  into.job = null;
  into.error = null;
  changed();
  try {
    into.job = await api.secureDevice(device.id, site, passkey);
    state.runs = startRun(state.runs, into.job, device.id);
  } catch (e) {
    into.error = asApiError(e);
  }
  changed();
}

/** Retry: the same device again, found by id or (re-plugged under a new id) by serial. */
export async function retry(into: Launch, site: string | null): Promise<void> {
  const run = runOf(into);
  const serials = [...into.target.serials, run?.serial];
  const device = retryTarget(state.devices, { deviceId: into.target.deviceId, serials });
  if (!device) {
    into.error = {
      code: 'not-found',
      message: 'The device is not plugged in.',
      help: 'Plug it back in and wait until it shows in the list above, then press Retry.',
      retry_after_secs: null,
    };
    changed();
    return;
  }
  await launch(device, site, into);
  into.target.serials.push(run?.serial);
}

/** Forgets everything tied to an unlocked inventory (the app locked). */
export function resetSession(): void {
  state.active = null;
  state.batch = [];
  state.handoverPath = null;
  state.askPasskey = null;
  changed();
}
