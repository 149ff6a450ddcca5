// The Settings screen: password policy and idle lock (they can only tighten a profile), CA export and backup.

import { api, asApiError } from '../api';
import { h, replace, field, actionButton } from '../dom';
import type { ApiError, Settings } from '../generated/types';
import { state } from '../store';
import { errorBox } from './credentials';

function numberInput(id: string, min: number, max?: number): HTMLInputElement {
  return h('input', { id, type: 'number', inputmode: 'numeric', min, max, step: 1 }) as HTMLInputElement;
}

/** '' means "the profile's own value" (null); anything else must be a whole number in range. */
function parse(input: HTMLInputElement, label: string, min: number, max: number, optional: boolean): number | null {
  const text = input.value.trim();
  if (text === '' && optional) return null;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw { code: 'invalid', message: `${label} must be a whole number from ${min} to ${max}.`, help: optional ? 'Leave it empty to use what each device profile asks for.' : null } satisfies ApiError;
  }
  return n;
}

function pathAction(id: string, label: string, pathId: string, run: () => Promise<string>, what: string): HTMLElement {
  const out = h('div', { className: 'path-out' });
  const button = actionButton({ id }, label, async () => {
    try {
      const path = await run();
      replace(out, h('p', {}, `${what} `, h('code', { id: pathId, className: 'path', text: path })));
    } catch (e) {
      replace(out, errorBox(null, asApiError(e)));
    }
  });
  return h('div', { className: 'stack' }, h('div', { className: 'actions' }, button), out);
}

export function settingsScreen(): { root: HTMLElement } {
  const minLength = numberInput('setting-min-length', 1, 64);
  const maxAge = numberInput('setting-max-age', 1);
  const idle = numberInput('setting-idle', 1, 240);
  const errors = h('div', { 'aria-live': 'assertive' });
  const saved = h('p', { className: 'saved', role: 'status' });
  const fill = (s: Settings) => {
    minLength.value = s.password_min_length === null ? '' : String(s.password_min_length);
    maxAge.value = s.password_max_age_days === null ? '' : String(s.password_max_age_days);
    idle.value = String(s.idle_lock_minutes);
  };
  const showError = (e: unknown) => replace(errors, errorBox('settings-error', asApiError(e)));

  const form = h('form', { className: 'stack', novalidate: true },
    field('Minimum password length', minLength, 'Empty: what each device profile asks for. At most 64.'),
    field('Passwords expire after (days)', maxAge, 'Empty: what each device profile asks for. Settings can only make a profile stricter.'),
    field('Lock Temper after this many minutes without use', idle, 'From 1 to 240.'),
    errors,
    h('div', { className: 'actions' }, h('button', { type: 'submit', id: 'settings-save', className: 'primary' }, 'Save')),
    saved) as HTMLFormElement;
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    replace(errors);
    saved.textContent = '';
    let settings: Settings;
    try {
      settings = {
        password_min_length: parse(minLength, 'The minimum password length', 1, 64, true),
        password_max_age_days: parse(maxAge, 'The password expiry', 1, 36_500, true),
        idle_lock_minutes: parse(idle, 'The idle lock', 1, 240, false) as number,
      };
    } catch (error) {
      showError(error);
      return;
    }
    api.saveSettings(settings).then((s) => {
      fill(s);
      saved.textContent = 'Saved.';
    }, showError);
  });
  api.getSettings().then(fill, showError);

  const info = state.info;
  const root = h('section', { id: 'screen-settings', className: 'screen narrow', 'aria-labelledby': 'settings-title' },
    h('h1', { id: 'settings-title', text: 'Settings' }),
    h('section', { className: 'card' }, h('h2', { text: 'Passwords and locking' }), form),
    h('section', { className: 'card' }, h('h2', { text: 'Certificate authority' }),
      h('p', { text: "Export the station's CA certificate to install it in browsers that open the devices' web pages." }),
      pathAction('export-ca', 'Export CA certificate', 'ca-path', api.exportCa, 'Saved to')),
    h('section', { className: 'card' }, h('h2', { text: 'Backup' }),
      h('p', { text: 'An encrypted copy of the inventory. Keep it on another disk; the recovery key opens it.' }),
      pathAction('backup-inventory', 'Back up inventory', 'backup-path', api.backupInventory, 'Saved to')),
    info ? h('p', { className: 'hint', text: `Temper ${info.version} · inventory ${info.inventory} · reports and exports in ${info.reportsDir}` }) : null);
  return { root };
}
