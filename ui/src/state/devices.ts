// Pure: which device is picked, which are ticked, and which attached device a Retry means.

import type { DeviceView } from '../generated/types';

/** The device to show as picked: the current pick if still attached, else the only device, else none. */
export function autoSelect(devices: DeviceView[], selected: string | null): string | null {
  if (selected !== null && devices.some((d) => d.id === selected)) return selected;
  return devices.length === 1 ? devices[0].id : null;
}

/** The ticked devices still attached (an unplugged device drops out of the selection). */
export function pruneSelection(devices: DeviceView[], ticked: ReadonlySet<string>): Set<string> {
  return new Set(devices.filter((d) => ticked.has(d.id)).map((d) => d.id));
}

export function toggle(ticked: ReadonlySet<string>, id: string, on: boolean): Set<string> {
  const next = new Set(ticked);
  if (on) next.add(id);
  else next.delete(id);
  return next;
}

/** What identifies the device a run was on, so that Retry finds it after it was unplugged and plugged again. */
export interface RunTarget {
  deviceId: string;
  /** Serial numbers known for it: the USB serial, and the serial the device itself reported. */
  serials: (string | null | undefined)[];
}

export function targetOf(device: DeviceView | undefined, deviceId: string, reportedSerial: string | null): RunTarget {
  return { deviceId, serials: [device?.serial, reportedSerial] };
}

/** The attached device a Retry should run on: the same id if it is back, else one with a matching serial. */
export function retryTarget(devices: DeviceView[], target: RunTarget): DeviceView | undefined {
  const same = devices.find((d) => d.id === target.deviceId);
  if (same) return same;
  const serials = target.serials.filter((s): s is string => typeof s === 'string' && s.length > 0);
  return devices.find((d) => d.serial !== null && serials.includes(d.serial));
}
