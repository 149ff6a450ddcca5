// The Inventory screen: search (filtered by the backend) and a table of every recorded device.

import { api, asApiError } from '../api';
import { h, replace } from '../dom';
import { certificateExpiry, credentialAge, stateWords } from '../format';
import type { InventoryRow } from '../generated/types';
import { errorBox } from './credentials';

export function cell(text: string, tone?: string): HTMLElement {
  return h('td', { className: tone ? `tone-${tone}` : null, text });
}

function row(r: InventoryRow, open: (serial: string) => void): HTMLElement {
  const cert = certificateExpiry(r.certificate_expires, r.certificate_days_left);
  const cred = credentialAge(r.credential_age_days, r.credential_max_age_days, r.credential_expired);
  const link = h('button', { type: 'button', className: 'link', text: r.model || 'Unknown device' });
  const tr = h('tr', { 'data-serial': r.serial, className: 'clickable' },
    h('td', {}, link), cell(r.serial), cell(r.site ?? '—'),
    cell(stateWords(r.state), r.state === 'hardened' ? 'ok' : r.state === 'failed' ? 'bad' : undefined),
    cell(cert.text, cert.tone), cell(cred.text, cred.tone));
  tr.addEventListener('click', () => open(r.serial));
  return tr;
}

export function inventoryScreen(open: (serial: string) => void): { root: HTMLElement } {
  const search = h('input', { id: 'inventory-search', type: 'search', autocomplete: 'off', 'aria-controls': 'inventory-table', placeholder: 'Model, serial or site' }) as HTMLInputElement;
  const body = h('tbody');
  const status = h('p', { className: 'hint', role: 'status' });
  const problem = h('div');
  let seq = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const load = async () => {
    const mine = ++seq;
    const query = search.value.trim();
    try {
      const rows = await api.inventoryRows(query);
      if (mine !== seq) return;
      replace(problem);
      replace(body, rows.map((r) => row(r, open)));
      status.textContent = rows.length ? `${rows.length} device${rows.length === 1 ? '' : 's'}` : query ? 'No device matches.' : 'No device recorded yet. Secure one on the Devices page.';
    } catch (e) {
      if (mine === seq) replace(problem, errorBox(null, asApiError(e)));
    }
  };
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => void load(), 200);
  });

  const table = h('table', { id: 'inventory-table', className: 'table' },
    h('caption', { className: 'visually-hidden', text: 'Recorded devices' }),
    h('thead', {}, h('tr', {}, ['Model', 'Serial', 'Site', 'State', 'Certificate expires', 'Password age'].map((t) => h('th', { scope: 'col', text: t })))),
    body);
  const root = h('section', { id: 'screen-inventory', className: 'screen', 'aria-labelledby': 'inventory-title' },
    h('h1', { id: 'inventory-title', text: 'Inventory' }),
    h('div', { className: 'field' }, h('label', { for: 'inventory-search', text: 'Search' }), search),
    problem, h('div', { className: 'scroll' }, table), status);
  void load();
  return { root };
}
