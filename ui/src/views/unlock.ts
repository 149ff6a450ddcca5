// The first screen: create the encrypted inventory (keyring or passphrase, then the recovery key once), or unlock it.

import { api, asApiError } from '../api';
import { h, replace, field, actionButton } from '../dom';
import type { ApiError, LockStatus, Strength, Unlock } from '../generated/types';
import { secondsLeft, waitDeadline, waitWords } from '../state/backoff';
import { errorBox } from './credentials';

const SCORE_WORDS = ['Very weak', 'Weak', 'Fair', 'Strong', 'Very strong'];

function passwordInput(id: string, autocomplete: string): HTMLInputElement {
  return h('input', { id, type: 'password', autocomplete, spellcheck: 'false', required: true }) as HTMLInputElement;
}

function form(onSubmit: () => Promise<void>, ...children: HTMLElement[]): HTMLFormElement {
  const el = h('form', { className: 'stack' }, ...children) as HTMLFormElement;
  let busy = false;
  el.addEventListener('submit', (e) => {
    e.preventDefault();
    if (busy) return;
    busy = true;
    void onSubmit().finally(() => { busy = false; });
  });
  return el;
}

function showError(box: HTMLElement, id: string, e: unknown): void {
  const error: ApiError = asApiError(e);
  replace(box, errorBox(id, error));
}

function recoveryView(key: string, onDone: () => void): HTMLElement {
  const done = h('button', { type: 'button', id: 'recovery-done', className: 'primary' }, 'I have written it down');
  done.addEventListener('click', onDone);
  return h('div', { className: 'stack' },
    h('h2', { text: 'Your recovery key' }),
    h('p', { text: 'Write this key down and keep it somewhere safe, away from this computer. It opens the inventory if the keyring or the passphrase is lost. Temper shows it only this once.' }),
    h('code', { id: 'recovery-key', className: 'recovery-key', text: key }),
    h('div', { className: 'actions' }, done));
}

function createView(onDone: () => void, root: HTMLElement): HTMLElement {
  const errors = h('div', { 'aria-live': 'assertive' });
  const input = passwordInput('create-passphrase', 'new-password');
  const meter = h('div', { id: 'strength-meter', className: 'meter', role: 'meter', 'aria-label': 'Passphrase strength', 'aria-valuemin': 0, 'aria-valuemax': 4, 'aria-valuenow': 0, 'data-score': 0 }, h('span', { className: 'meter-bar' }));
  const words = h('p', { className: 'meter-words', 'aria-live': 'polite' });
  const feedback = h('ul', { className: 'hint' });
  let seq = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const show = (s: Strength | null) => {
    const score = s?.score ?? 0;
    meter.dataset.score = String(score);
    meter.setAttribute('aria-valuenow', String(score));
    meter.setAttribute('aria-valuetext', s ? SCORE_WORDS[score] : 'Empty');
    words.textContent = s ? `${SCORE_WORDS[score]}${s.acceptable ? '' : ': not strong enough yet'}` : '';
    replace(feedback, (s?.feedback ?? []).map((f) => h('li', { text: f })));
  };
  const measure = async (): Promise<Strength | null> => {
    const mine = ++seq;
    if (!input.value) return (show(null), null);
    const s = await api.passphraseStrength(input.value);
    if (mine === seq) show(s);
    return s;
  };
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => void measure().catch(() => {}), 250);
  });

  const created = (key: string) => replace(root, recoveryView(key, onDone));
  const create = async (unlock: Unlock) => {
    replace(errors);
    try {
      created(await api.createInventory(unlock));
      (root.querySelector('#recovery-done') as HTMLElement | null)?.focus();
    } catch (e) {
      showError(errors, 'create-error', e);
    }
  };
  const viaPassphrase = form(async () => {
    clearTimeout(timer);
    const s = await measure().catch((e) => (showError(errors, 'create-error', e), undefined));
    if (s === undefined) return;
    if (!s?.acceptable) {
      replace(errors, errorBox('create-error', { code: 'weak-passphrase', message: 'This passphrase is too easy to guess.', help: 'Use a longer passphrase: several unrelated words work well.', retry_after_secs: null }));
      input.focus();
      return;
    }
    await create({ method: 'passphrase', passphrase: input.value });
  },
  field('Passphrase', input, 'At least four unrelated words. You type it each time you open Temper.'),
  meter, words, feedback,
  h('div', { className: 'actions' }, h('button', { type: 'submit', id: 'create-submit', className: 'primary' }, 'Create inventory')));

  const viaKeyring = actionButton({ id: 'create-keyring' }, "Use this computer's keyring", () => create({ method: 'keyring' }));
  return h('div', { className: 'stack' },
    h('h2', { text: 'Create your inventory' }),
    h('p', { text: "Temper keeps every device's new passwords in an encrypted inventory on this computer. Choose how to protect it." }),
    h('h3', { text: 'With a passphrase' }), viaPassphrase,
    h('h3', { text: 'Or with the desktop keyring' }),
    h('p', { text: 'Opens automatically while you are logged in to this computer.' }),
    h('div', { className: 'actions' }, viaKeyring),
    errors);
}

/** The wait after repeated wrong passphrases: `#unlock-wait` counts the seconds down (`data-seconds`) and the
 * unlock buttons stay disabled until it is over. */
function backoff(box: HTMLElement, buttons: () => HTMLButtonElement[]): { start: (retryAfterSecs: number | null) => void; waiting: () => boolean } {
  const line = h('p', { id: 'unlock-wait', className: 'wait', role: 'timer' });
  let deadline: number | null = null;
  let ticker: ReturnType<typeof setInterval> | undefined;
  let shown = false;
  const tick = () => {
    const left = secondsLeft(deadline, Date.now());
    shown ||= box.isConnected;
    const gone = shown && !box.isConnected; // the screen was replaced: stop ticking
    if (left > 0 && !gone) {
      line.dataset.seconds = String(left);
      line.textContent = waitWords(left);
      if (!line.isConnected) replace(box, line);
      for (const b of buttons()) b.disabled = true;
      return;
    }
    clearInterval(ticker);
    ticker = undefined;
    deadline = null;
    replace(box);
    for (const b of buttons()) b.disabled = false;
  };
  const start = (retryAfterSecs: number | null) => {
    deadline = waitDeadline(retryAfterSecs, Date.now(), deadline);
    if (deadline === null) return;
    tick();
    ticker ??= setInterval(tick, 250);
  };
  return { start, waiting: () => secondsLeft(deadline, Date.now()) > 0 };
}

function unlockView(status: LockStatus, onDone: () => void): HTMLElement {
  const errors = h('div', { 'aria-live': 'assertive' });
  const waitBox = h('div');
  const input = passwordInput('unlock-passphrase', 'current-password');
  const submit = h('button', { type: 'submit', id: 'unlock-submit', className: status.keyring_slot ? null : 'primary' }, 'Unlock') as HTMLButtonElement;
  let keyring: HTMLButtonElement | null = null;
  const wait = backoff(waitBox, () => (keyring ? [submit, keyring] : [submit]));
  const open = async (unlock: Unlock) => {
    if (wait.waiting()) return;
    replace(errors);
    try {
      await api.unlockInventory(unlock);
      input.value = '';
      onDone();
    } catch (e) {
      const error: ApiError = asApiError(e);
      replace(errors, errorBox('unlock-error', error));
      wait.start(error.retry_after_secs);
      input.select();
    }
  };
  keyring = status.keyring_slot
    ? actionButton({ id: 'unlock-keyring', className: 'primary' }, 'Unlock with the keyring', () => open({ method: 'keyring' }))
    : null;
  return h('div', { className: 'stack' },
    h('h2', { text: 'Unlock your inventory' }),
    keyring ? h('div', { className: 'actions' }, keyring) : null,
    form(() => open({ method: 'passphrase', passphrase: input.value }),
      field(keyring ? 'Or with the passphrase' : 'Passphrase', input),
      h('div', { className: 'actions' }, submit)),
    errors,
    waitBox);
}

export function unlockScreen(status: LockStatus, onDone: () => void): HTMLElement {
  const root = h('section', { id: 'screen-unlock', className: 'screen narrow', 'aria-label': 'Unlock' });
  replace(root, status.exists ? unlockView(status, onDone) : createView(onDone, root));
  return root;
}
