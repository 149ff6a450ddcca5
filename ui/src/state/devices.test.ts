import { describe, expect, it } from 'vitest';
import type { DeviceView } from '../generated/types';
import { autoSelect, pruneSelection, retryTarget, targetOf, toggle } from './devices';

const device = (id: string, serial: string | null = null): DeviceView => ({
  id, connection: 'USB serial', port: `/dev/${id}`, serial, usb_id: '1a86:7523', product: null, address: null, rssi: null,
  needs_passkey: false, profile_id: 'ipcam',
  model: 'Camera', note: null, simulated: false, simulator_pid: null,
});

describe('device selection', () => {
  it('auto-selects the only device, keeps a pick while attached, drops it when unplugged', () => {
    expect(autoSelect([device('a')], null)).toBe('a');
    expect(autoSelect([device('a'), device('b')], null)).toBeNull();
    expect(autoSelect([device('a'), device('b')], 'b')).toBe('b');
    expect(autoSelect([device('a'), device('c')], 'b')).toBeNull();
    expect(autoSelect([device('c')], 'b')).toBe('c');
    expect(autoSelect([], 'b')).toBeNull();
  });

  it('ticks and unticks; unplugged devices leave the selection', () => {
    let ticked = toggle(new Set(), 'a', true);
    ticked = toggle(ticked, 'b', true);
    ticked = toggle(ticked, 'a', false);
    expect([...ticked]).toEqual(['b']);
    expect([...pruneSelection([device('a')], new Set(['a', 'b']))]).toEqual(['a']);
  });

  it('retries on the same id if it is back, else on the device with a matching serial', () => {
    const target = targetOf(device('a', 'USB1'), 'a', 'SV9');
    expect(retryTarget([device('b', 'USB1'), device('a', 'X')], target)?.id).toBe('a');
    expect(retryTarget([device('b', 'USB1')], target)?.id).toBe('b');
    expect(retryTarget([device('c', 'SV9')], target)?.id).toBe('c');
    expect(retryTarget([device('d', 'other'), device('e')], target)).toBeUndefined();
    expect(retryTarget([device('e')], targetOf(undefined, 'a', null))).toBeUndefined();
  });
});
