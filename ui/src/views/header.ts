// The header: navigation, the end-user / installer switch, and Lock.

import { h, actionButton } from '../dom';
import { changed, state, type Mode } from '../store';

export type Screen = 'devices' | 'inventory' | 'audit' | 'settings';

const NAV: [Screen, string][] = [['devices', 'Devices'], ['inventory', 'Inventory'], ['audit', 'Audit'], ['settings', 'Settings']];

export function header(go: (screen: Screen) => void, lock: () => Promise<void>): { root: HTMLElement; setCurrent: (s: Screen | null) => void } {
  const navButtons = NAV.map(([screen, label]) => {
    const b = h('button', { type: 'button', className: 'nav', 'data-nav': screen }, label);
    b.addEventListener('click', () => go(screen));
    return b;
  });
  const modeButton = (mode: Mode, id: string, label: string) => {
    const b = h('button', { type: 'button', id, className: 'mode', 'aria-pressed': state.mode === mode }, label);
    b.addEventListener('click', () => {
      state.mode = mode;
      for (const other of modeButtons) other.setAttribute('aria-pressed', String(other === b));
      changed();
    });
    return b;
  };
  const modeButtons = [
    modeButton('end-user', 'mode-end-user', 'Just one device'),
    modeButton('installer', 'mode-installer', 'Installer (several devices)'),
  ];
  for (const b of modeButtons) b.setAttribute('aria-pressed', String(b.id === `mode-${state.mode}`));
  const lockButton = actionButton({ id: 'lock-button', className: 'lock' }, 'Lock', lock);
  const root = h('div', { className: 'bar' },
    h('span', { className: 'brand', text: 'Temper' }),
    h('nav', { 'aria-label': 'Main' }, navButtons),
    h('div', { className: 'modes', role: 'group', 'aria-label': 'Mode' }, modeButtons),
    lockButton);
  const setCurrent = (current: Screen | null) => {
    for (const b of navButtons) {
      if (b.dataset.nav === current) b.setAttribute('aria-current', 'page');
      else b.removeAttribute('aria-current');
    }
  };
  return { root, setCurrent };
}
