// The Devices screen: the live list of attached devices, then the end-user or installer panel.

import { api, asApiError } from '../api';
import { h, replace, update, actionButton } from '../dom';
import type { DeviceView } from '../generated/types';
import { changed, state, subscribe } from '../store';
import { bluetoothHint, connectionFacts, emptyWords } from '../state/bluetooth';
import { toggle } from '../state/devices';
import { errorBox } from './credentials';
import { endUserPanel } from './enduser';
import { installerPanel, passkeyField } from './installer';

function deviceItem(d: DeviceView): HTMLElement {
  const installer = state.mode === 'installer';
  const input = h('input', {
    type: installer ? 'checkbox' : 'radio', name: installer ? null : 'device',
    className: installer ? 'device-select' : 'device-pick', 'data-device-id': d.id,
    checked: installer ? state.ticked.has(d.id) : state.selected === d.id,
  }) as HTMLInputElement;
  input.addEventListener('change', () => {
    if (installer) state.ticked = toggle(state.ticked, d.id, input.checked);
    else if (input.checked) state.selected = d.id;
    changed();
  });
  const facts = connectionFacts(d);
  const unplug = d.simulated && d.simulator_pid !== null
    ? actionButton({ className: 'unplug link', 'aria-label': `Unplug the simulated ${d.model}` }, 'Unplug', async () => {
      await api.unplugSimulatedDevice(d.simulator_pid as number).catch(() => {});
    })
    : null;
  return h('li', { className: 'device', 'data-device-id': d.id, 'data-known': d.profile_id !== null, 'data-connection': d.address !== null ? 'ble' : 'usb' },
    h('label', { className: 'device-label' }, input,
      h('span', { className: 'device-text' },
        h('span', { className: 'device-model', text: d.model }),
        d.note ? h('span', { className: 'device-note', text: d.note }) : null,
        h('span', { className: 'device-facts', text: facts }))),
    installer && d.needs_passkey ? passkeyField(d.id, d.model) : null,
    unplug);
}

function emptyState(tryError: HTMLElement): HTMLElement {
  const allowed = state.info?.simulatorAllowed ?? false;
  const button = actionButton({ id: 'try-simulated' }, 'Try with a simulated device', async () => {
    replace(tryError);
    try {
      await api.plugSimulatedDevice('ipcam');
    } catch (e) {
      replace(tryError, errorBox(null, asApiError(e)));
    }
  });
  const words = emptyWords(state.bluetooth, allowed);
  return h('div', { className: 'empty', id: 'devices-empty', 'data-bluetooth': state.bluetooth?.state ?? 'unknown' },
    h('p', { id: 'empty-heading', className: 'empty-heading', text: words.heading }),
    h('p', { id: 'empty-text', text: words.text }),
    words.bluetooth ? h('p', { id: 'bluetooth-note', className: 'hint', text: words.bluetooth }) : null,
    state.bluetooth?.detail && state.bluetooth.state !== 'off'
      ? h('details', { className: 'bluetooth-detail hint' }, h('summary', { text: 'Technical detail' }), h('span', { text: state.bluetooth.detail }))
      : null,
    allowed ? button : null, tryError);
}

export function devicesScreen(): { root: HTMLElement; dispose: () => void } {
  const title = h('h1', { id: 'devices-title' });
  const list = h('ul', { id: 'device-list', className: 'device-list', 'aria-label': 'Attached devices' });
  const empty = h('div');
  const hint = h('p', { id: 'bluetooth-hint', className: 'hint' });
  const tryError = h('div');
  const top = h('div', { className: 'panel' });
  // One live region that stays in place, so that screen readers announce each new activity.
  const live = h('p', { id: 'run-activity', className: 'activity', 'aria-live': 'polite' });
  const bottom = h('div', { className: 'panel' });
  const render = () => {
    const installer = state.mode === 'installer';
    title.textContent = installer ? 'Secure several devices' : 'Secure a device';
    update(list, [state.devices, state.mode], () => state.devices.map(deviceItem));
    // Ticks and picks change in place: rebuilding the list under the pointer would swallow clicks.
    for (const input of list.querySelectorAll<HTMLInputElement>('input[data-device-id]')) {
      const id = input.dataset.deviceId as string;
      input.checked = installer ? state.ticked.has(id) : state.selected === id;
    }
    list.hidden = state.devices.length === 0;
    update(empty, [state.devices.length === 0, state.info, state.bluetooth], () => (state.devices.length === 0 ? emptyState(tryError) : null));
    const below = state.devices.length > 0 ? bluetoothHint(state.bluetooth) : null;
    hint.hidden = below === null;
    if (hint.textContent !== (below ?? '')) hint.textContent = below ?? '';
    if (installer) installerPanel(top, bottom, live);
    else endUserPanel(top, bottom, live);
  };
  const root = h('section', { id: 'screen-devices', className: 'screen', 'aria-labelledby': 'devices-title' },
    title, list, hint, empty, top, live, bottom);
  render();
  return { root, dispose: subscribe(render) };
}
