// Settings, under "Back up inventory": the backups in the reports folder, each with Restore. Restore asks for the
// backup's passphrase (or the keyring) inline and says in plain words that the current inventory is replaced and
// kept aside; the backend verifies the backup with that key before it changes anything.

import { api, asApiError } from '../api';
import { h, replace, field } from '../dom';
import { formatDateTime } from '../format';
import type { BackupFile, RestoreResult, Unlock } from '../generated/types';
import { asideName, sizeWords } from '../state/restore';
import { resetSession, state } from '../store';
import { errorBox } from './credentials';
import { forgetSecrets } from './enduser';

function restoreForm(backup: BackupFile, onRestored: (r: RestoreResult) => void, onCancel: () => void): HTMLElement {
  const input = h('input', { id: 'restore-passphrase', type: 'password', autocomplete: 'off', spellcheck: 'false' }) as HTMLInputElement;
  const keyring = h('input', { id: 'restore-keyring', type: 'checkbox' }) as HTMLInputElement;
  keyring.addEventListener('change', () => { input.disabled = keyring.checked; });
  const errors = h('div', { 'aria-live': 'assertive' });
  const confirm = h('button', { type: 'submit', id: 'restore-confirm', className: 'danger' }, 'Replace the current inventory') as HTMLButtonElement;
  const cancel = h('button', { type: 'button', id: 'restore-cancel' }, 'Cancel');
  cancel.addEventListener('click', onCancel);
  const aside = asideName(state.info?.inventory ?? 'inventory.db');
  const form = h('form', { className: 'restore-form stack', 'aria-label': `Restore ${backup.name}` },
    h('p', { className: 'restore-warning' },
      h('strong', { text: 'This replaces the current inventory with this backup.' }),
      ' Devices secured and passwords changed after the backup was made are not in it. ',
      'The current inventory is not deleted: it is kept aside as ',
      h('code', { text: aside.name }),
      aside.dir ? ` in ${aside.dir}` : '',
      ', and still opens with its own passphrase.'),
    field('Passphrase of this backup', input, 'The passphrase the inventory had when the backup was made. The backup is checked with it before anything changes.'),
    h('label', { className: 'check' }, keyring, " Use this computer's keyring instead"),
    errors,
    h('div', { className: 'actions' }, confirm, cancel)) as HTMLFormElement;
  let busy = false;
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (busy) return;
    const unlock: Unlock = keyring.checked ? { method: 'keyring' } : { method: 'passphrase', passphrase: input.value };
    if (unlock.method === 'passphrase' && !input.value) {
      replace(errors, errorBox('restore-error', { code: 'invalid', message: 'Type the passphrase of this backup.', help: null, retry_after_secs: null }));
      input.focus();
      return;
    }
    busy = true;
    confirm.setAttribute('aria-busy', 'true');
    replace(errors);
    api.restoreBackup(backup.name, unlock).then((result) => {
      input.value = '';
      onRestored(result);
    }, (err) => {
      replace(errors, errorBox('restore-error', asApiError(err)));
      input.select();
    }).finally(() => {
      busy = false;
      confirm.removeAttribute('aria-busy');
    });
  });
  queueMicrotask(() => input.focus());
  return form;
}

/** The backups list with its Restore buttons; `refresh` reloads it (after a new backup). */
export function restoreSection(): { root: HTMLElement; refresh: () => void } {
  const list = h('ul', { id: 'backup-list', className: 'backup-list' });
  const result = h('div', { id: 'restore-result', role: 'status' });
  const errors = h('div', { 'aria-live': 'assertive' });
  let open: string | null = null;
  let backups: BackupFile[] = [];

  const restored = (r: RestoreResult) => {
    open = null;
    forgetSecrets();
    resetSession();
    result.dataset.result = 'restored';
    replace(result, h('p', { className: 'saved' },
      `Restored ${r.restored}: ${r.devices} device${r.devices === 1 ? '' : 's'}. The previous inventory is kept aside as `,
      h('code', { className: 'path', text: r.kept_aside }), '.'));
    refresh();
  };
  const render = () => {
    if (backups.length === 0) {
      replace(list, h('li', { className: 'hint', id: 'backup-empty', text: 'No backups in the reports folder yet.' }));
      return;
    }
    replace(list, backups.map((b) => {
      const button = h('button', { type: 'button', className: 'restore-button', 'aria-expanded': open === b.name, 'aria-label': `Restore ${b.name}` }, 'Restore…');
      button.addEventListener('click', () => {
        open = open === b.name ? null : b.name;
        delete result.dataset.result;
        replace(result);
        render();
      });
      return h('li', { className: 'backup-item', 'data-file': b.name },
        h('div', { className: 'backup-row' },
          h('span', { className: 'backup-name', text: b.name }),
          h('span', { className: 'hint', text: `${sizeWords(b.size)} · ${formatDateTime(b.modified)}` }),
          button),
        open === b.name ? restoreForm(b, restored, () => {
          open = null;
          render();
          (list.querySelector(`.backup-item[data-file="${CSS.escape(b.name)}"] .restore-button`) as HTMLElement | null)?.focus();
        }) : null);
    }));
  };
  const refresh = () => {
    api.listBackups().then((found) => {
      backups = found;
      if (open !== null && !found.some((b) => b.name === open)) open = null;
      replace(errors);
      render();
    }, (e) => replace(errors, errorBox('backup-list-error', asApiError(e))));
  };
  refresh();
  const root = h('div', { className: 'stack restore' },
    h('h3', { text: 'Restore a backup' }),
    h('p', { className: 'hint', text: 'Backups in the reports folder, newest first.' }),
    list, errors, result);
  return { root, refresh };
}
