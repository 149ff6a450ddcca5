// A device's page: facts, steps, checks, certificates, credentials (Reveal) and its history.

import { api, asApiError } from '../api';
import { h, replace } from '../dom';
import { certificateExpiry, changedWords, credentialAge, formatDateTime, stateWords, stepOutcome, storeWords } from '../format';
import type { DevicePage } from '../generated/types';
import { auditTable } from './audit';
import { credentialActions, errorBox } from './credentials';
import { cell } from './inventory';

function section(title: string, ...body: (HTMLElement | null)[]): HTMLElement {
  return h('section', { className: 'card' }, h('h2', { text: title }), ...body);
}

function table(heads: string[], rows: HTMLElement[], empty: string): HTMLElement {
  if (!rows.length) return h('p', { className: 'hint', text: empty });
  return h('div', { className: 'scroll' }, h('table', { className: 'table' },
    h('thead', {}, h('tr', {}, heads.map((t) => h('th', { scope: 'col', text: t })))), h('tbody', {}, rows)));
}

function page(p: DevicePage): HTMLElement[] {
  const r = p.row;
  const now = Date.now() / 1000;
  const cert = certificateExpiry(r.certificate_expires, r.certificate_days_left);
  const cred = credentialAge(r.credential_age_days, r.credential_max_age_days, r.credential_expired);
  const facts: [string, string][] = [
    ['Model', r.model], ['Serial', r.serial], ['Firmware', r.firmware], ['Site', r.site ?? '—'],
    ['State', stateWords(r.state)], ['Address', r.address ?? '—'], ['Profile', p.profile_id],
    ['Certificate', cert.text], ['Password age', cred.text], ['Last change', formatDateTime(r.updated_at)],
  ];
  return [
    h('h1', { id: 'device-title', text: `${r.model} · ${r.serial}` }),
    section('Facts', h('dl', { className: 'facts' }, facts.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })]))),
    section('Steps', table(['Step', 'Outcome'], p.steps.map(([step, outcome]) => {
      const o = stepOutcome(outcome);
      return h('tr', {}, cell(step), cell(o.text, o.failed ? 'bad' : 'ok'));
    }), 'No step recorded.')),
    section('Checks from outside', table(['Phase', 'What', 'Result', 'Seen', 'Guideline'], p.checks.map((c) =>
      h('tr', { 'data-check': c.id }, cell(c.phase), cell(c.subject), cell(c.passed ? 'Pass' : 'Fail', c.passed ? 'ok' : 'bad'),
        cell(c.detail), h('td', {}, h('ul', { className: 'plain' }, c.guideline.map((g) => h('li', { text: g })))))), 'No check recorded.')),
    section('Certificates', table(['Fingerprint (SHA-256)', 'State', 'Expires'], p.certificates.map((c) => {
      const e = certificateExpiry(c.not_after, null);
      return h('tr', {}, h('td', {}, h('code', { className: 'fingerprint', text: c.fingerprint })), cell(c.state), cell(e.text, c.state === 'active' ? e.tone : undefined));
    }), 'No certificate.')),
    section('Passwords', table(['Where', 'User', 'Changed'], p.credentials.map((c) =>
      h('tr', {}, cell(storeWords(c.store)), cell(c.username), cell(changedWords(c.changed_at, now) + (c.pending ? ' · a new one waits for confirmation' : '')))), 'No password recorded.'),
    p.credentials.length ? credentialActions(r.serial) : null),
    section('History', p.history.length ? auditTable(p.history, 'device-history', false) : h('p', { id: 'device-history', className: 'hint', text: 'No event recorded.' })),
  ];
}

export function deviceScreen(serial: string, back: () => void): { root: HTMLElement } {
  const content = h('div', { id: 'device-page' }, h('p', { className: 'hint', text: 'Loading…' }));
  const backButton = h('button', { type: 'button', className: 'link back' }, '← Inventory');
  backButton.addEventListener('click', back);
  const root = h('section', { id: 'screen-device', className: 'screen', 'aria-labelledby': 'device-title' }, backButton, content);
  api.devicePage(serial).then(
    (p) => replace(content, page(p)),
    (e) => replace(content, h('h1', { id: 'device-title', text: serial }), errorBox(null, asApiError(e))));
  return { root };
}
