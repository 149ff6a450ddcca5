// A device's page: facts, "Rotate passwords now" and "Renew certificate" (run inline), steps, checks,
// certificates, credentials (Reveal) and its history.

import { api, asApiError } from '../api';
import { h, replace, update } from '../dom';
import { certificateExpiry, changedWords, credentialAge, formatDateTime, stateWords, stepOutcome, storeWords } from '../format';
import type { ApiError, DevicePage } from '../generated/types';
import { maintenanceResult, maintenanceTitle, ROTATE_QUESTION, type MaintenanceKind } from '../state/maintenance';
import { failedChecks, startRun } from '../state/run';
import { state, subscribe } from '../store';
import { auditTable } from './audit';
import { credentialActions, errorBox } from './credentials';
import { stepList } from './enduser';
import { cell } from './inventory';

function section(title: string, ...body: (HTMLElement | null)[]): HTMLElement {
  return h('section', { className: 'card' }, h('h2', { text: title }), ...body);
}

function table(heads: string[], rows: HTMLElement[], empty: string): HTMLElement {
  if (!rows.length) return h('p', { className: 'hint', text: empty });
  return h('div', { className: 'scroll' }, h('table', { className: 'table' },
    h('thead', {}, h('tr', {}, heads.map((t) => h('th', { scope: 'col', text: t })))), h('tbody', {}, rows)));
}

function page(p: DevicePage, maintenance: HTMLElement): HTMLElement[] {
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
    maintenance,
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

/** One press of "Rotate passwords now" or "Renew certificate": the job once the backend answered, or why not. */
interface Maintenance {
  kind: MaintenanceKind;
  job: number | null;
  error: ApiError | null;
  /** True once the run ended and the page was reloaded (the result shows only then, over fresh facts). */
  settled: boolean;
}

/**
 * The maintenance card: the two buttons (rotating asks first, inline), the run's steps as they go, then the
 * result or the error. When a run ends, `reload` refreshes the page (history shows the new audit events).
 */
function maintenancePanel(serial: string, reload: () => Promise<void>): { root: HTMLElement; dispose: () => void } {
  const controls = h('div');
  const steps = h('div');
  const live = h('p', { id: 'device-run-activity', className: 'activity', role: 'status', 'aria-live': 'polite' });
  const outcome = h('div');
  const root = h('section', { id: 'device-maintenance', className: 'card', 'aria-labelledby': 'device-maintenance-title' },
    h('h2', { id: 'device-maintenance-title', text: 'Passwords and certificate' }),
    h('p', { className: 'hint', text: 'Plug the device in to this computer first (a Bluetooth device: switch it on close by; renewing the certificate over Bluetooth is not supported yet). Each new password or certificate is saved before the device gets it, and checked from outside.' }),
    controls, steps, live, outcome);
  let confirming = false;
  let current: Maintenance | null = null;
  const settling = new WeakSet<Maintenance>();
  // Brings the run's steps, then its result, into view once per press (not on every step change).
  const scrolled = new WeakMap<Maintenance, Set<string>>();
  const scrollOnce = (launch: Maintenance, what: string, el: HTMLElement): void => {
    const done = scrolled.get(launch) ?? new Set<string>();
    scrolled.set(launch, done);
    if (done.has(what) || !el.firstChild) return;
    done.add(what);
    el.scrollIntoView({ block: 'nearest' });
  };

  const start = async (kind: MaintenanceKind): Promise<void> => {
    confirming = false;
    const launch: Maintenance = { kind, job: null, error: null, settled: false };
    current = launch;
    render();
    try {
      launch.job = kind === 'rotate' ? await api.rotateCredentialsNow(serial) : await api.renewCertificate(serial);
      state.runs = startRun(state.runs, launch.job, serial);
    } catch (e) {
      launch.error = asApiError(e);
      launch.settled = true;
    }
    render();
  };

  const settle = async (launch: Maintenance): Promise<void> => {
    await reload();
    launch.settled = true;
    render();
  };

  function render(): void {
    const launch = current;
    const run = launch?.job != null ? state.runs[launch.job] : undefined;
    const busy = launch !== null && !launch.settled;
    if (launch && !launch.settled && run && run.state !== 'running' && !settling.has(launch)) {
      // The run ended: reload the page once (new facts and history), then show the result.
      settling.add(launch);
      void settle(launch);
    }

    update(controls, [busy, confirming], () => {
      if (confirming) {
        const yes = h('button', { type: 'button', id: 'rotate-now-confirm', className: 'primary' }, 'Yes, change the passwords');
        const no = h('button', { type: 'button', id: 'rotate-now-cancel' }, 'Cancel');
        yes.addEventListener('click', () => void start('rotate'));
        no.addEventListener('click', () => {
          confirming = false;
          render();
          (root.querySelector('#rotate-now') as HTMLElement | null)?.focus();
        });
        queueMicrotask(() => no.focus());
        return h('div', { id: 'rotate-confirm', className: 'confirm', role: 'group', 'aria-labelledby': 'rotate-question' },
          h('p', { id: 'rotate-question', text: ROTATE_QUESTION }), h('div', { className: 'actions' }, yes, no));
      }
      const rotate = h('button', { type: 'button', id: 'rotate-now', disabled: busy }, 'Rotate passwords now');
      const renew = h('button', { type: 'button', id: 'renew-certificate', disabled: busy }, 'Renew certificate');
      rotate.addEventListener('click', () => {
        confirming = true;
        render();
      });
      renew.addEventListener('click', () => void start('renew'));
      return h('div', { className: 'actions' }, rotate, renew);
    });

    update(steps, [launch?.kind, launch?.job, run?.steps], () => (launch && run && run.steps.length
      ? [h('h3', { text: maintenanceTitle(launch.kind) }), stepList(run.steps, 'device-run-steps')]
      : null));
    if (launch && run?.steps.length) scrollOnce(launch, 'steps', steps);

    const activity = !launch ? '' : !launch.settled ? (run?.state === 'running' ? run.activity || 'Starting…' : run ? 'Finishing…' : 'Starting…')
      : launch.error || run?.state === 'failed' ? 'Stopped.' : 'Finished.';
    if (live.textContent !== activity) live.textContent = activity;

    const error = launch?.error ?? (run?.state === 'failed' ? run.error : null);
    const ended = launch?.settled && run && (run.state === 'secured' || run.state === 'not-secured') ? run : null;
    update(outcome, [launch?.job, launch?.settled, error, ended?.state, ended?.checks], () => {
      if (!launch?.settled) return null;
      if (error) return errorBox('device-run-error', error);
      if (!ended || (ended.state !== 'secured' && ended.state !== 'not-secured')) return null;
      const words = maintenanceResult(launch.kind, ended.state);
      const failed = failedChecks(ended);
      return h('section', { id: 'device-run-result', className: `result ${ended.state === 'secured' ? 'ok' : 'bad'}`, 'data-result': ended.state },
        h('h3', { text: words.heading }), h('p', { text: words.text }),
        failed.length ? h('ul', { className: 'failed-checks' }, failed.map((c) => h('li', {}, h('strong', { text: c.subject }), ': ', c.detail))) : null);
    });
    if (launch?.settled) scrollOnce(launch, 'outcome', outcome);
  }

  render();
  return { root, dispose: subscribe(render) };
}

export function deviceScreen(serial: string, back: () => void): { root: HTMLElement; dispose: () => void } {
  const content = h('div', { id: 'device-page' }, h('p', { className: 'hint', text: 'Loading…' }));
  const backButton = h('button', { type: 'button', className: 'link back' }, '← Inventory');
  backButton.addEventListener('click', back);
  const root = h('section', { id: 'screen-device', className: 'screen', 'aria-labelledby': 'device-title' }, backButton, content);
  const load = async (): Promise<void> => {
    try {
      replace(content, page(await api.devicePage(serial), maintenance.root));
    } catch (e) {
      replace(content, h('h1', { id: 'device-title', text: serial }), errorBox(null, asApiError(e)));
    }
  };
  const maintenance = maintenancePanel(serial, load);
  void load();
  return { root, dispose: maintenance.dispose };
}
