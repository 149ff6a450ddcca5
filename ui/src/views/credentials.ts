// "Keep the new password": reveal (audited, only on the press), copy, and a printable QR label.

import { api, asApiError } from '../api';
import { h, replace, actionButton } from '../dom';
import { preferredStore, storeWords } from '../format';
import type { ApiError, RevealedCredential } from '../generated/types';

export function errorBox(id: string | null, error: ApiError): HTMLElement {
  return h('div', { id, className: 'error', role: 'alert' },
    h('p', { className: 'error-message', text: error.message }),
    error.help ? h('p', { className: 'error-help', text: error.help }) : null);
}

/** Copies `text`; without clipboard access it selects it so that Ctrl+C works. */
async function copy(text: string, shown: HTMLElement, status: HTMLElement): Promise<void> {
  try {
    // Some webviews never settle the clipboard promise without permission: give up after a moment.
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('clipboard timeout')), 1500));
    await Promise.race([navigator.clipboard.writeText(text), timeout]);
    status.textContent = 'Copied.';
  } catch {
    const range = document.createRange();
    range.selectNodeContents(shown);
    const selection = window.getSelection();
    selection?.removeAllRanges();
    selection?.addRange(range);
    status.textContent = 'Selected: press Ctrl+C to copy.';
  }
}

function revealed(list: RevealedCredential[]): HTMLElement {
  const first = preferredStore(list);
  const ordered = first ? [first, ...list.filter((c) => c !== first)] : [];
  if (ordered.length === 0) return h('p', { text: 'No password is recorded for this device yet.' });
  return h('dl', { className: 'secrets' }, ordered.flatMap((c, i) => {
    const shown = h('code', { id: i === 0 ? 'revealed-password' : null, className: 'secret', text: c.password });
    const status = h('span', { className: 'copy-status', role: 'status' });
    const button = h('button', { type: 'button', id: i === 0 ? 'copy-password' : null, className: 'copy' }, 'Copy');
    button.addEventListener('click', () => void copy(c.password, shown, status));
    return [h('dt', { text: `${storeWords(c.store)} — user “${c.username}”` }), h('dd', {}, shown, ' ', button, ' ', status)];
  }));
}

/** Puts the label under a print-only class and opens the print dialog. */
function printLabel(): void {
  document.body.classList.add('printing-label');
  window.addEventListener('afterprint', () => document.body.classList.remove('printing-label'), { once: true });
  window.print();
}

/** The reveal and label controls for `serial` (the label is for the web page's password, else the first one). */
export function credentialActions(serial: string): HTMLElement {
  const out = h('div', { className: 'reveal-area' });
  const label = h('div', { className: 'label-area' });
  let stores: string[] | null = null;

  const reveal = actionButton({ id: 'reveal-button' }, 'Show password', async () => {
    try {
      const list = await api.revealCredentials(serial);
      stores = list.map((c) => c.store);
      replace(out, revealed(list));
      (out.querySelector('button.copy') as HTMLElement | null)?.focus();
    } catch (e) {
      replace(out, errorBox(null, asApiError(e)));
    }
  });

  const makeLabel = actionButton({ id: 'print-label' }, 'Print label', async () => {
    try {
      if (!stores) stores = (await api.devicePage(serial)).credentials.map((c) => c.store);
      const store = preferredStore(stores.map((s) => ({ store: s })))?.store;
      if (!store) throw { code: 'not-found', message: 'No password is recorded for this device yet.', help: null };
      const svg = await api.credentialLabel(serial, store);
      const img = h('img', {
        id: 'label-preview', className: 'label-preview',
        alt: `Label with the ${storeWords(store).toLowerCase()} password of ${serial}`,
        src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`,
      });
      const print = h('button', { type: 'button', id: 'print-now' }, 'Print');
      print.addEventListener('click', printLabel);
      replace(label, h('figure', { className: 'print-area' }, img), print);
      print.focus();
    } catch (e) {
      replace(label, errorBox(null, asApiError(e)));
    }
  });

  return h('section', { className: 'next-steps', 'aria-label': 'What to do next' },
    h('h3', { text: 'What to do next' }),
    h('p', { text: 'Keep the new password somewhere safe: you need it to log in to the device. Showing it is recorded in the audit trail.' }),
    h('div', { className: 'actions' }, reveal, makeLabel),
    out, label);
}
