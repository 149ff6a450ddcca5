// The Settings screen: password policy and idle lock (they can only tighten a profile), the certificate key type
// (one every profile allows), CA export and backup.

import { api, asApiError } from '../api';
import { h, replace, field, actionButton } from '../dom';
import type { ApiError, Settings } from '../generated/types';
import { state } from '../store';
import { errorBox } from './credentials';
import { restoreSection } from './restore';

function numberInput(id: string, min: number, max?: number): HTMLInputElement {
  return h('input', { id, type: 'number', inputmode: 'numeric', min, max, step: 1 }) as HTMLInputElement;
}

/** '' means "the profile's own value" (null); anything else must be a whole number in range. */
function parse(input: HTMLInputElement, label: string, min: number, max: number, optional: boolean): number | null {
  const text = input.value.trim();
  if (text === '' && optional) return null;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw { code: 'invalid', message: `${label} must be a whole number from ${min} to ${max}.`, help: optional ? 'Leave it empty to use what each device profile asks for.' : null, retry_after_secs: null } satisfies ApiError;
  }
  return n;
}

/** The key types offered for device certificates ('' is each profile's default). */
export const CERT_KEYS: readonly (readonly [string, string])[] = [
  ['ecdsa-p256', 'ECDSA P-256'],
  ['ecdsa-p384', 'ECDSA P-384'],
  ['ed25519', 'Ed25519'],
];

function certKeySelect(): HTMLSelectElement {
  return h('select', { id: 'setting-cert-key' },
    h('option', { value: '', text: 'Profile default' }),
    CERT_KEYS.map(([value, label]) => h('option', { value, text: label }))) as HTMLSelectElement;
}

/** Shows `kind` in the select; a kind set elsewhere (e.g. rsa-2048 in the settings file) gets its own option. */
function selectCertKey(select: HTMLSelectElement, kind: string | null): void {
  const value = kind ?? '';
  if (![...select.options].some((o) => o.value === value)) {
    select.appendChild(h('option', { value, text: value }));
  }
  select.value = value;
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
  const certKey = certKeySelect();
  const errors = h('div', { 'aria-live': 'assertive' });
  const saved = h('p', { className: 'saved', role: 'status' });
  const fill = (s: Settings) => {
    minLength.value = s.password_min_length === null ? '' : String(s.password_min_length);
    maxAge.value = s.password_max_age_days === null ? '' : String(s.password_max_age_days);
    idle.value = String(s.idle_lock_minutes);
    selectCertKey(certKey, s.certificate_key);
  };
  const showError = (e: unknown) => replace(errors, errorBox('settings-error', asApiError(e)));

  const form = h('form', { className: 'stack', novalidate: true },
    field('Minimum password length', minLength, 'Empty: what each device profile asks for. At most 64.'),
    field('Passwords expire after (days)', maxAge, 'Empty: what each device profile asks for. Settings can only make a profile stricter.'),
    field('Lock Temper after this many minutes without use', idle, 'From 1 to 240.'),
    field('Certificate key type', certKey, 'The key each device makes for its certificate. It must be one every device profile allows; "Profile default": what each profile asks for.'),
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
        certificate_key: certKey.value === '' ? null : certKey.value,
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

  // Backups and restoring one (views/restore.ts); the list reloads after each new backup.
  const restore = restoreSection();
  const backupThenList = () => api.backupInventory().finally(restore.refresh);

  const info = state.info;
  const root = h('section', { id: 'screen-settings', className: 'screen narrow', 'aria-labelledby': 'settings-title' },
    h('h1', { id: 'settings-title', text: 'Settings' }),
    h('section', { className: 'card' }, h('h2', { text: 'Passwords and locking' }), form),
    h('section', { className: 'card' }, h('h2', { text: 'Certificate authority' }),
      h('p', { text: "Export the station's CA certificate to install it in browsers that open the devices' web pages." }),
      pathAction('export-ca', 'Export CA certificate', 'ca-path', api.exportCa, 'Saved to')),
    h('section', { className: 'card' }, h('h2', { text: 'Backup' }),
      h('p', { text: 'An encrypted copy of the inventory. Keep it on another disk; the recovery key opens it.' }),
      pathAction('backup-inventory', 'Back up inventory', 'backup-path', backupThenList, 'Saved to'),
      restore.root),
    info ? h('p', { className: 'hint', text: `Temper ${info.version} · inventory ${info.inventory} · reports and exports in ${info.reportsDir}` }) : null);
  return { root };
}
