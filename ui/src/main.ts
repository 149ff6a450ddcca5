// Boot and routing: listen to the backend, ask where the inventory stands, show the first screen.

import { api, asApiError, events, whenLocked } from './api';
import { h, replace } from './dom';
import type { LockStatus } from './generated/types';
import { resetSession, setBluetooth, setDevices, onJobEvent, state } from './store';
import { auditScreen } from './views/audit';
import { errorBox } from './views/credentials';
import { deviceScreen } from './views/device';
import { devicesScreen } from './views/devices';
import { forgetSecrets } from './views/enduser';
import { forgetPasskeys } from './views/installer';
import { header, type Screen } from './views/header';
import { inventoryScreen } from './views/inventory';
import { settingsScreen } from './views/settings';
import { unlockScreen } from './views/unlock';

type Route = Screen | { device: string } | 'unlock';

const main = document.getElementById('main') as HTMLElement;
const top = document.getElementById('app-header') as HTMLElement;
let route: Route | null = null;
let dispose: (() => void) | undefined;

const nav = header((s) => go(s), async () => {
  await api.lockInventory().catch(() => {});
  await showUnlock();
});
top.appendChild(nav.root);

function mount(next: Route, screen: { root: HTMLElement; dispose?: () => void }, focus: boolean): void {
  dispose?.();
  dispose = screen.dispose;
  route = next;
  replace(main, screen.root);
  top.hidden = next === 'unlock';
  nav.setCurrent(typeof next === 'string' && next !== 'unlock' ? next : next === 'unlock' ? null : 'inventory');
  if (focus) {
    // Move the focus to the new screen's heading, so that keyboard and screen-reader users land on it.
    const heading = screen.root.querySelector('h1') ?? screen.root;
    heading.setAttribute('tabindex', '-1');
    (heading as HTMLElement).focus({ preventScroll: true });
  }
}

function go(next: Screen | { device: string }, focus = true): void {
  if (next === 'devices') mount(next, devicesScreen(), focus);
  else if (next === 'inventory') mount(next, inventoryScreen((serial) => go({ device: serial })), focus);
  else if (next === 'audit') mount(next, auditScreen(), focus);
  else if (next === 'settings') mount(next, settingsScreen(), focus);
  else mount(next, deviceScreen(next.device, () => go('inventory')), focus);
}

async function enter(): Promise<void> {
  go('devices', false);
  try {
    setDevices(await api.listDevices());
    setBluetooth(await api.bluetoothState());
  } catch {
    // The list also arrives with devices://changed, the Bluetooth state with bluetooth://changed.
  }
}

async function showUnlock(known?: LockStatus): Promise<void> {
  forgetSecrets();
  forgetPasskeys();
  resetSession();
  if (route === 'unlock' && !known) return;
  route = 'unlock';
  try {
    const status = known ?? (await api.lockStatus());
    mount('unlock', { root: unlockScreen(status, () => void enter()) }, false);
    (main.querySelector('input, button') as HTMLElement | null)?.focus();
  } catch (e) {
    mount('unlock', { root: h('section', { id: 'screen-unlock', className: 'screen narrow' }, h('h1', { text: 'Temper cannot start' }), errorBox('unlock-error', asApiError(e))) }, false);
  }
}

async function boot(): Promise<void> {
  whenLocked(() => void showUnlock());
  const listening = Promise.all([
    events.devicesChanged(setDevices),
    events.bluetoothChanged(setBluetooth),
    events.runEvent(onJobEvent),
    events.sessionLocked(() => void showUnlock()),
  ]).catch(() => []);
  const [info, status] = await Promise.all([api.appInfo().catch(() => null), api.lockStatus().catch((e) => asApiError(e)), listening]);
  state.info = info;
  if ('unlocked' in status && status.unlocked) await enter();
  else if ('unlocked' in status) await showUnlock(status);
  else mount('unlock', { root: h('section', { id: 'screen-unlock', className: 'screen narrow' }, h('h1', { text: 'Temper cannot start' }), errorBox('unlock-error', status)) }, false);
  document.body.dataset.ready = 'true';
}

void boot();
