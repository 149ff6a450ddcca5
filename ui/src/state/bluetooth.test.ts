import { describe, expect, it } from 'vitest';
import type { BluetoothView, DeviceView } from '../generated/types';
import { bluetoothHint, connectionFacts, emptyWords, passkeyDigits, passkeyProblem, signalWords } from './bluetooth';

const bt = (state: string): BluetoothView => ({ state, message: null, detail: null });

const ble = (rssi: number | null): DeviceView => ({
  id: 'ble:D4:5A:1E:00:00:10', connection: 'Bluetooth LE', port: null, serial: null, usb_id: null, product: 'NS-ENV1-0010',
  address: 'D4:5A:1E:00:00:10', rssi, needs_passkey: false, profile_id: 'zephyr-sensor', model: 'Sensor', note: null,
  simulated: false, simulator_pid: null,
});

describe('the empty device list', () => {
  it('says "Bluetooth is off" and how to turn it on, instead of only "no device"', () => {
    const off = emptyWords(bt('off'), true);
    expect(off.heading).toBe('Bluetooth is off');
    expect(off.text).toContain('Turn Bluetooth on');
    expect(off.text).toContain('bluetoothctl power on');
    expect(off.bluetooth).toContain('try with a simulated device');
  });

  it('names a missing adapter or Bluetooth service in plain words', () => {
    expect(emptyWords(bt('no-adapter'), false)).toEqual({
      heading: 'No device found', text: 'Plug one in.',
      bluetooth: 'Bluetooth devices cannot be listed: this computer has no Bluetooth adapter. Plug one in, or turn on the built-in one.',
    });
    expect(emptyWords(bt('unavailable'), false).bluetooth).toContain('Bluetooth service is not running');
    expect(emptyWords(bt('starting'), false).bluetooth).toContain('Looking for Bluetooth devices');
  });

  it('says only "no device" when Bluetooth works, is turned off in Temper, or is not known yet', () => {
    expect(emptyWords(bt('on'), true).heading).toBe('No device found');
    expect(emptyWords(bt('on'), true).bluetooth).toBeNull();
    expect(emptyWords(bt('disabled'), true)).toEqual({ heading: 'No device found', text: 'Plug one in, or try with a simulated device.', bluetooth: null });
    expect(emptyWords(null, false).text).toBe('Plug one in.');
  });

  it('warns under a non-empty list only when Bluetooth is off', () => {
    expect(bluetoothHint(bt('off'))).toContain('Bluetooth is off');
    expect(bluetoothHint(bt('on'))).toBeNull();
    expect(bluetoothHint(bt('unavailable'))).toBeNull();
    expect(bluetoothHint(null)).toBeNull();
  });
});

describe('a Bluetooth LE device in the list', () => {
  it('says the signal strength in words', () => {
    expect(signalWords(-58)).toBe('strong signal (−58 dBm)');
    expect(signalWords(-60)).toBe('strong signal (−60 dBm)');
    expect(signalWords(-70)).toBe('fair signal (−70 dBm)');
    expect(signalWords(-90)).toBe('weak signal (−90 dBm)');
  });

  it('shows "Bluetooth LE", the signal, its name and address', () => {
    expect(connectionFacts(ble(-58))).toBe('Bluetooth LE · strong signal (−58 dBm) · NS-ENV1-0010 · D4:5A:1E:00:00:10');
    expect(connectionFacts(ble(null))).toBe('Bluetooth LE · NS-ENV1-0010 · D4:5A:1E:00:00:10');
    const usb: DeviceView = { ...ble(null), connection: 'USB serial', address: null, port: '/dev/ttyUSB0', serial: 'A1', product: null };
    expect(connectionFacts(usb)).toBe('USB serial · /dev/ttyUSB0 · serial A1');
  });
});

describe('the passkey', () => {
  it('is 6 digits; anything else says what is wrong', () => {
    expect(passkeyProblem('042137')).toBeNull();
    expect(passkeyProblem('042 137')).toBeNull();
    expect(passkeyDigits(' 042 137 ')).toBe('042137');
    expect(passkeyProblem('')).toContain('6 digits');
    expect(passkeyProblem('04213')).toBe('The passkey has 6 digits; this has 5.');
    expect(passkeyProblem('0421375')).toBe('The passkey has 6 digits; this has 7.');
    expect(passkeyProblem('04213a')).toBe('The passkey has digits only (0–9).');
  });
});
