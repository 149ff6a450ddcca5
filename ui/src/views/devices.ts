// The Devices screen: the live list of attached devices, then the end-user or installer panel.

import { api, asApiError } from '../api';
import { h, replace, update, actionButton } from '../dom';
import type { DeviceView } from '../generated/types';
import { changed, state, subscribe } from '../store';
import { toggle } from '../state/devices';
import { errorBox } from './credentials';
import { endUserPanel } from './enduser';
import { installerPanel } from './installer';

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
  const facts = [d.connection, d.port, d.serial ? `serial ${d.serial}` : null].filter(Boolean).join(' · ');
  const unplug = d.simulated && d.simulator_pid !== null
    ? actionButton({ className: 'unplug link', 'aria-label': `Unplug the simulated ${d.model}` }, 'Unplug', async () => {
      await api.unplugSimulatedDevice(d.simulator_pid as number).catch(() => {});
    })
    : null;
  return h('li', { className: 'device', 'data-device-id': d.id, 'data-known': d.profile_id !== null },
    h('label', { className: 'device-label' }, input,
      h('span', { className: 'device-text' },
        h('span', { className: 'device-model', text: d.model }),
        d.note ? h('span', { className: 'device-note', text: d.note }) : null,
        h('span', { className: 'device-facts', text: facts }))),
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
  return h('div', { className: 'empty' },
    h('p', { text: allowed ? 'No device found. Plug one in, or try with a simulated device.' : 'No device found. Plug one in.' }),
    allowed ? button : null, tryError);
}

export function devicesScreen(): { root: HTMLElement; dispose: () => void } {
  const title = h('h1', { id: 'devices-title' });
  const list = h('ul', { id: 'device-list', className: 'device-list', 'aria-label': 'Attached devices' });
  const empty = h('div');
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
    update(empty, [state.devices.length === 0, state.info], () => (state.devices.length === 0 ? emptyState(tryError) : null));
    if (installer) installerPanel(top, bottom, live);
    else endUserPanel(top, bottom, live);
  };
  const root = h('section', { id: 'screen-devices', className: 'screen', 'aria-labelledby': 'devices-title' },
    title, list, empty, top, live, bottom);
  render();
  return { root, dispose: subscribe(render) };
}
