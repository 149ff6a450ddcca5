// End-user mode: one big button, the steps as they run, then the result and what to do next.

import { h, update, actionButton } from '../dom';
import type { DeviceView } from '../generated/types';
import { passkeyDigits, passkeyProblem } from '../state/bluetooth';
import { failedChecks, type RunView, type StepView } from '../state/run';
import { changed, launch, retry, runOf, state, type Launch } from '../store';
import { credentialActions, errorBox } from './credentials';

const STATE_WORDS: Record<StepView['state'], string> = {
  pending: 'waiting', running: 'in progress', done: 'done', skipped: 'nothing to do', failed: 'failed',
};

export function stepList(steps: StepView[], id = 'run-steps'): HTMLElement {
  return h('ol', { id, className: 'steps' }, steps.map((s) =>
    h('li', { className: 'step', 'data-step': s.step, 'data-state': s.state },
      h('span', { className: 'step-icon', 'aria-hidden': 'true' }),
      h('span', { className: 'step-title', text: s.title }),
      h('span', { className: 'step-state', text: ` (${STATE_WORDS[s.state]})` }),
      // Core's wording is for operators ("run the command again"); the plain-words error box below says what to
      // do, so the step keeps the technical detail folded away.
      s.message ? h('details', { className: 'step-message' }, h('summary', { text: 'Technical detail' }), h('span', { text: s.message })) : null)));
}

// The "what to do next" block is kept per serial, so that a revealed password survives list updates.
const nextSteps = new Map<string, HTMLElement>();
export function forgetSecrets(): void {
  nextSteps.clear();
}
function nextStepsFor(serial: string): HTMLElement {
  const existing = nextSteps.get(serial);
  if (existing) return existing;
  const made = credentialActions(serial);
  nextSteps.set(serial, made);
  return made;
}

function result(run: RunView): HTMLElement {
  const secured = run.state === 'secured';
  const failed = failedChecks(run);
  return h('section', { id: 'run-result', className: `result ${secured ? 'ok' : 'bad'}`, 'data-result': run.state },
    h('h2', { text: secured ? 'Secured' : 'Not fully secured' }),
    h('p', { text: secured
      ? `${run.model ?? 'The device'} has new passwords, only the services it needs, and its own certificate. Temper checked all of it from outside.`
      : 'Some checks from outside did not pass. The device is safer than before, but not yet as it should be.' }),
    failed.length ? h('ul', { className: 'failed-checks' }, failed.map((c) =>
      h('li', {}, h('strong', { text: c.subject }), ': ', c.detail))) : null);
}

function retryButton(current: Launch): HTMLElement {
  return actionButton({ id: 'retry-button', className: 'primary' }, 'Retry', async () => {
    // A device that pairs by passkey is asked for it again (the passkey is never kept).
    const device = state.devices.find((d) => d.id === current.target.deviceId);
    if (device?.needs_passkey) {
      state.askPasskey = device.id;
      state.active = null;
      changed();
      return;
    }
    await retry(current, null);
  });
}

function secure(device: DeviceView, passkey: string | null): void {
  state.askPasskey = null;
  state.active = { target: { deviceId: device.id, serials: [] }, job: null, error: null };
  void launch(device, null, state.active, passkey);
}

/** "Secure this device" for a device that pairs by passkey: the 6 digits from its label, checked before sending. */
function passkeyForm(device: DeviceView): HTMLElement {
  const input = h('input', {
    id: 'passkey-input', type: 'text', inputmode: 'numeric', autocomplete: 'off', maxlength: 7, spellcheck: 'false',
    'aria-describedby': 'passkey-hint passkey-problem', placeholder: '000000',
  }) as HTMLInputElement;
  const problem = h('p', { id: 'passkey-problem', className: 'passkey-problem', role: 'alert' });
  const submit = h('button', { type: 'submit', id: 'passkey-submit', className: 'big primary' }, 'Secure this device');
  const cancel = h('button', { type: 'button', id: 'passkey-cancel' }, 'Cancel');
  const form = h('form', { id: 'passkey-form', className: 'passkey', 'aria-labelledby': 'passkey-label', novalidate: true },
    h('label', { id: 'passkey-label', for: 'passkey-input', text: `Passkey of ${device.model}` }),
    h('p', { id: 'passkey-hint', className: 'hint', text: 'This device pairs over Bluetooth with the 6-digit passkey printed on its label. Temper uses it once and does not keep it.' }),
    input, problem, h('div', { className: 'actions' }, submit, cancel));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const wrong = passkeyProblem(input.value);
    problem.textContent = wrong ?? '';
    input.setAttribute('aria-invalid', wrong ? 'true' : 'false');
    if (wrong) {
      input.focus();
      return;
    }
    const digits = passkeyDigits(input.value);
    input.value = '';
    secure(device, digits);
  });
  cancel.addEventListener('click', () => {
    state.askPasskey = null;
    changed();
  });
  queueMicrotask(() => input.focus());
  return form;
}

export function endUserPanel(top: HTMLElement, bottom: HTMLElement, live: HTMLElement): void {
  const current = state.active;
  const run = current ? runOf(current) : undefined;
  const starting = current !== null && current.job === null && current.error === null;
  const busy = starting || run?.state === 'running';
  const selected = state.devices.find((d) => d.id === state.selected);

  const asking = state.devices.find((d) => d.id === state.askPasskey);
  update(top, ['end-user', busy, selected?.id, selected?.model, state.devices.length, run?.steps, run?.model, asking?.id], () => {
    if (asking && !busy) return passkeyForm(asking);
    const button = h('button', {
      type: 'button', id: 'secure-button', className: 'big primary', 'aria-disabled': selected ? null : 'true',
      'aria-describedby': selected ? null : 'secure-hint',
    }, 'Secure this device');
    button.addEventListener('click', () => {
      if (!selected || state.active?.job === null && !state.active?.error) return;
      if (selected.needs_passkey) {
        state.askPasskey = selected.id;
        state.active = null;
        changed();
        return;
      }
      secure(selected, null);
    });
    return [
      !busy && state.devices.length > 0 ? h('div', { className: 'secure' }, button,
        selected ? null : h('p', { id: 'secure-hint', className: 'hint', text: 'Pick a device in the list first.' })) : null,
      run || starting ? h('h2', { text: `Securing ${run?.model ?? state.devices.find((d) => d.id === current?.target.deviceId)?.model ?? 'the device'}` }) : null,
      run && run.steps.length ? stepList(run.steps) : null,
    ];
  });

  const activity = starting ? 'Starting…' : run?.state === 'running' ? run.activity
    : run?.state === 'secured' ? 'Finished: the device is secured.'
      : run?.state === 'not-secured' ? 'Finished: the device is not fully secured.'
        : run?.state === 'failed' || current?.error ? 'Stopped.' : '';
  if (live.textContent !== activity) live.textContent = activity;

  const error = current?.error ?? (run?.state === 'failed' ? run.error : null);
  const terminal = run && run.state !== 'running' && run.state !== 'failed';
  update(bottom, ['end-user', current?.job, error, terminal ? run.state : null, terminal ? run.checks : null, run?.serial, busy], () => {
    if (!current || busy) return null;
    const serial = run?.serial ?? null;
    return [
      error ? errorBox('run-error', error) : null,
      error ? retryButton(current) : null,
      terminal ? result(run) : null,
      serial && (terminal || error) ? nextStepsFor(serial) : null,
    ];
  });
}
