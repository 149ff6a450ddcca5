// Installer mode: a site name, ticked devices, one progress card per run, then the handover report.

import { api, asApiError } from '../api';
import { h, keyed, replace, sync, update, actionButton, field } from '../dom';
import { passkeyDigits, passkeyProblem } from '../state/bluetooth';
import { progress } from '../state/run';
import type { DeviceView } from '../generated/types';
import { changed, launch, retry, runOf, state, type Launch } from '../store';
import { errorBox } from './credentials';

type CardState = 'running' | 'secured' | 'not-secured' | 'failed';

function cardState(l: Launch): CardState {
  if (l.error) return 'failed';
  return runOf(l)?.state ?? 'running';
}

const RESULT_WORDS: Record<CardState, string> = {
  running: 'Working…', secured: 'Secured', 'not-secured': 'Not fully secured', failed: 'Stopped',
};

function card(l: Launch): HTMLElement {
  const run = runOf(l);
  const cs = cardState(l);
  const { done, total } = run ? progress(run) : { done: 0, total: 0 };
  const error = l.error ?? run?.error ?? null;
  const name = run?.model ?? state.devices.find((d) => d.id === l.target.deviceId)?.model ?? 'Device';
  const failedChecks = run?.checks.filter((c) => !c.passed) ?? [];
  return h('li', { className: `run-card ${cs}`, 'data-device-id': l.target.deviceId, 'data-state': cs },
    h('h3', { text: run?.serial ? `${name} · ${run.serial}` : name }),
    h('p', { className: 'card-result', text: RESULT_WORDS[cs] }),
    total ? h('progress', { max: total, value: done, 'aria-label': `${name}: ${done} of ${total} steps` }) : null,
    total ? h('p', { className: 'card-steps', text: `${done} of ${total} steps` }) : null,
    cs === 'running' && run?.activity ? h('p', { className: 'card-activity', text: run.activity }) : null,
    failedChecks.length ? h('ul', { className: 'failed-checks' }, failedChecks.map((c) => h('li', { text: `${c.subject}: ${c.detail}` }))) : null,
    error ? errorBox(null, error) : null,
    error ? actionButton({ className: 'card-retry', 'data-device-id': l.target.deviceId }, 'Retry', () => retryCard(l)) : null);
}

// Passkeys typed in the list for BLE devices that pair by one, by device id: held only until "Secure selected"
// sends them (or the app locks), so that a list refresh does not wipe what is being typed.
const passkeys = new Map<string, string>();
export function forgetPasskeys(): void {
  passkeys.clear();
}

/** The passkey field of a device row in installer mode (for a device that pairs by passkey). */
export function passkeyField(deviceId: string, model: string): HTMLElement {
  const input = h('input', {
    type: 'text', className: 'device-passkey', 'data-device-id': deviceId, inputmode: 'numeric', autocomplete: 'off',
    maxlength: 7, spellcheck: 'false', placeholder: 'Passkey (6 digits)', 'aria-label': `Passkey of ${model}, 6 digits from its label`,
    value: passkeys.get(deviceId) ?? '',
  }) as HTMLInputElement;
  input.addEventListener('input', () => passkeys.set(deviceId, input.value));
  return input;
}

/** Launches `d` into `l`, with the passkey typed in its row when it pairs by one (checked first, then forgotten). */
function start(d: DeviceView, l: Launch): Promise<void> {
  if (!d.needs_passkey) return launch(d, state.batchSite || null, l);
  const typed = passkeys.get(d.id) ?? '';
  passkeys.delete(d.id);
  for (const field of document.querySelectorAll<HTMLInputElement>('input.device-passkey')) {
    if (field.dataset.deviceId === d.id) field.value = '';
  }
  const problem = passkeyProblem(typed);
  if (problem) {
    l.target = { deviceId: d.id, serials: [] };
    l.job = null;
    l.error = { code: 'passkey', message: problem, help: 'Type the 6 digits from its label in its row above, then press Retry.', retry_after_secs: null };
    changed();
    return Promise.resolve();
  }
  return launch(d, state.batchSite || null, l, passkeyDigits(typed));
}

function retryCard(l: Launch): Promise<void> {
  const d = state.devices.find((x) => x.id === l.target.deviceId);
  return d?.needs_passkey ? start(d, l) : retry(l, state.batchSite || null);
}

async function secureSelected(): Promise<void> {
  const chosen = state.devices.filter((d) => state.ticked.has(d.id));
  if (chosen.length === 0) return;
  const busy = new Set(state.batch.filter((l) => cardState(l) === 'running').map((l) => l.target.deviceId));
  const fresh = chosen.filter((d) => !busy.has(d.id));
  const ids = new Set(fresh.map((d) => d.id));
  const launches = fresh.map((d): Launch => ({ target: { deviceId: d.id, serials: [] }, job: null, error: null }));
  state.batch = [...state.batch.filter((l) => !ids.has(l.target.deviceId)), ...launches];
  state.batchSite = state.site.trim();
  state.handoverPath = null;
  changed();
  await Promise.all(fresh.map((d, i) => start(d, launches[i])));
}

const cards = new Map<string, { sig: string; node: HTMLElement }>();

export function installerPanel(top: HTMLElement, bottom: HTMLElement, live: HTMLElement): void {
  update(top, ['installer', state.devices.length > 0], () => {
    const site = h('input', { id: 'site-name', type: 'text', autocomplete: 'off', value: state.site, placeholder: 'e.g. Harbour St. 12, 2nd floor' }) as HTMLInputElement;
    site.addEventListener('input', () => { state.site = site.value; });
    const button = actionButton({ id: 'secure-selected', className: 'primary' }, 'Secure selected', secureSelected);
    return [field('Site name', site, 'Recorded with each device and printed on the handover report.'),
      state.devices.length ? h('div', { className: 'actions' }, button) : null];
  });
  const list = top.querySelector('.run-cards') ?? top.appendChild(h('ul', { className: 'run-cards', 'aria-label': 'Runs' }));
  sync(list, state.batch.map((l) => {
    const run = runOf(l);
    return keyed(cards, l.target.deviceId, [cardState(l), run?.steps, run?.activity, run?.serial, run?.model, l.error, run?.checks], () => card(l));
  }));

  const states = state.batch.map(cardState);
  const finished = state.batch.length > 0 && !states.includes('running');
  // The report can be saved whenever nothing runs: for this batch, or (no batch yet) for the site's devices.
  const idle = !states.includes('running');
  const summary = finished ? `All runs ended: ${states.filter((s) => s === 'secured').length} of ${states.length} secured.` : '';
  if (live.textContent !== summary) live.textContent = summary;

  update(bottom, ['installer', idle, state.handoverPath], () => {
    if (!idle) return null;
    const path = h('code', { id: 'handover-path', className: 'path', text: state.handoverPath ?? '' });
    const problem = h('div');
    const save = actionButton({ id: 'save-handover', className: 'primary' }, 'Save handover report', async () => {
      const serials = state.batch.map((l) => runOf(l)?.serial).filter((s): s is string => !!s);
      try {
        state.handoverPath = await api.saveHandoverReport(state.batchSite || state.site.trim() || null, serials);
        changed();
      } catch (e) {
        replace(problem, errorBox(null, asApiError(e)));
      }
    });
    const scope = state.batch.length ? 'the devices of this batch' : 'every device of the site named above (all sites when empty)';
    return [h('h2', { text: 'Handover' }), h('p', { text: `The report covers ${scope}; it holds no password.` }), save, problem,
      state.handoverPath ? h('p', {}, 'Saved to ', path) : null];
  });
}
