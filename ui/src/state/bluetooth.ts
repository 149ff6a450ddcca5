// Pure: what the Devices screen says about Bluetooth LE (the empty state, the hint under a list), a BLE
// device's connection and signal in plain words, and the check of a typed passkey.

import type { BluetoothView, DeviceView } from '../generated/types';

/** The empty list's words: a heading, what to do, and a line about Bluetooth when it matters. */
export interface EmptyWords {
  heading: string;
  text: string;
  bluetooth: string | null;
}

/**
 * What the empty device list says. When Bluetooth is off the heading is "Bluetooth is off" (an empty list then
 * does not mean there is nothing nearby); without an adapter or a Bluetooth service it says so below the usual
 * "No device found".
 */
export function emptyWords(bluetooth: BluetoothView | null, simulatorAllowed: boolean): EmptyWords {
  const usb = simulatorAllowed ? 'Plug one in, or try with a simulated device.' : 'Plug one in.';
  switch (bluetooth?.state) {
    case 'off':
      return {
        heading: 'Bluetooth is off',
        text: 'Turn Bluetooth on in your computer’s Bluetooth settings (or run: bluetoothctl power on) to see Bluetooth devices.',
        bluetooth: `No USB device is connected either. ${usb}`,
      };
    case 'no-adapter':
      return { heading: 'No device found', text: usb, bluetooth: 'Bluetooth devices cannot be listed: this computer has no Bluetooth adapter. Plug one in, or turn on the built-in one.' };
    case 'unavailable':
      return { heading: 'No device found', text: usb, bluetooth: 'Bluetooth devices cannot be listed: this computer’s Bluetooth service is not running.' };
    case 'starting':
      return { heading: 'No device found', text: usb, bluetooth: 'Looking for Bluetooth devices nearby…' };
    case 'on':
      return { heading: 'No device found', text: `${usb} Bluetooth devices show up here when they are switched on and close by.`, bluetooth: null };
    default:
      return { heading: 'No device found', text: usb, bluetooth: null };
  }
}

/** The line under a non-empty list when Bluetooth is off (devices may be missing from it), else null. */
export function bluetoothHint(bluetooth: BluetoothView | null): string | null {
  return bluetooth?.state === 'off' ? 'Bluetooth is off: Bluetooth devices are not listed. Turn it on to see them.' : null;
}

/** Signal strength in words: strong from −60 dBm, fair from −75 dBm, else weak. */
export function signalWords(rssi: number): string {
  const strength = rssi >= -60 ? 'strong' : rssi >= -75 ? 'fair' : 'weak';
  return `${strength} signal (${String(rssi).replace('-', '−')} dBm)`;
}

/** How a device is connected, in words: "Bluetooth LE · strong signal (−58 dBm)", or the USB port. */
export function connectionFacts(d: DeviceView): string {
  if (d.address !== null) {
    return [d.rssi === null ? d.connection : `${d.connection} · ${signalWords(d.rssi)}`, d.product, d.address]
      .filter(Boolean).join(' · ');
  }
  return [d.connection, d.port, d.serial ? `serial ${d.serial}` : null].filter(Boolean).join(' · ');
}

/** Why a typed passkey cannot be sent, or null when it is 6 digits (spaces are ignored). */
export function passkeyProblem(typed: string): string | null {
  const digits = typed.replace(/\s+/g, '');
  if (digits.length === 0) return 'Enter the 6 digits printed on the device’s label.';
  if (!/^\d+$/.test(digits)) return 'The passkey has digits only (0–9).';
  if (digits.length !== 6) return `The passkey has 6 digits; this has ${digits.length}.`;
  return null;
}

/** The passkey as sent: the digits without spaces. */
export function passkeyDigits(typed: string): string {
  return typed.replace(/\s+/g, '');
}
