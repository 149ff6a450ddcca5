// The Audit screen: the integrity of the hash chain, then every event.

import { api, asApiError } from '../api';
import { h, replace } from '../dom';
import { formatDateTime } from '../format';
import type { AuditRow } from '../generated/types';
import { errorBox } from './credentials';
import { cell } from './inventory';

export function auditTable(rows: AuditRow[], id: string, withDevice = true): HTMLElement {
  const heads = ['#', 'When', 'Who', 'What', ...(withDevice ? ['Device'] : []), 'Outcome', 'Details'];
  return h('div', { className: 'scroll' }, h('table', { id, className: 'table audit' },
    h('thead', {}, h('tr', {}, heads.map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, rows.map((r) => h('tr', { 'data-seq': r.seq },
      cell(String(r.seq)), cell(formatDateTime(r.at)), cell(r.actor), cell(r.action),
      withDevice ? cell(r.device ?? '—') : null, cell(r.outcome),
      h('td', {}, h('code', { className: 'detail', text: r.detail })))))));
}

export function auditScreen(): { root: HTMLElement } {
  const content = h('div', {}, h('p', { className: 'hint', text: 'Loading…' }));
  const root = h('section', { id: 'screen-audit', className: 'screen', 'aria-labelledby': 'audit-title' },
    h('h1', { id: 'audit-title', text: 'Audit trail' }), content);
  api.auditPage().then((page) => {
    const banner = h('div', {
      id: 'audit-integrity', className: `banner ${page.intact ? 'ok' : 'bad'}`, 'data-intact': String(page.intact), role: 'status',
    },
    h('strong', { text: page.intact ? 'Intact.' : 'Problem found.' }), ' ',
    page.intact
      ? 'No event was changed, removed or reordered since it was recorded.'
      : `${page.problem ?? 'The audit trail does not check out.'} Keep this computer as it is and tell whoever is responsible for security.`);
    replace(content, banner, page.events.length ? auditTable(page.events, 'audit-table') : h('p', { text: 'No event recorded yet.' }));
  }, (e) => replace(content, errorBox(null, asApiError(e))));
  return { root };
}
