// Pure wording: dates, days left, credential age against the policy, states and store names in plain words.

const pad = (n: number) => String(n).padStart(2, '0');

/** Unix seconds as a local date, 2025-03-01. */
export function formatDate(unixSecs: number): string {
  const d = new Date(unixSecs * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** Unix seconds as a local date and time, 2025-03-01 14:05. */
export function formatDateTime(unixSecs: number): string {
  const d = new Date(unixSecs * 1000);
  return `${formatDate(unixSecs)} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Days left until something expires, in words ("in 3 days", "today", "expired 2 days ago"). */
export function daysLeftWords(days: number): string {
  if (days < 0) return `expired ${plural(-days, 'day')} ago`;
  if (days === 0) return 'expires today';
  return `${plural(days, 'day')} left`;
}

export type Tone = 'ok' | 'warn' | 'bad' | 'none';

/** The certificate cell: date and days left, and how worried to look (warn within 30 days). */
export function certificateExpiry(expires: number | null, daysLeft: number | null): { text: string; tone: Tone } {
  if (expires === null) return { text: 'No certificate', tone: 'none' };
  const left = daysLeft ?? Math.floor((expires - Date.now() / 1000) / 86_400);
  const tone: Tone = left < 0 ? 'bad' : left <= 30 ? 'warn' : 'ok';
  return { text: `${formatDate(expires)} (${daysLeftWords(left)})`, tone };
}

/** The credential cell: its age against the expiry policy, flagged when over it. */
export function credentialAge(ageDays: number | null, maxAgeDays: number | null, expired: boolean): { text: string; tone: Tone } {
  if (ageDays === null) return { text: 'Not changed yet', tone: 'none' };
  const age = plural(ageDays, 'day');
  if (maxAgeDays === null) return { text: `${age} old (no expiry)`, tone: 'ok' };
  if (expired || ageDays > maxAgeDays) return { text: `${age} old, over the ${maxAgeDays}-day limit: change it`, tone: 'bad' };
  const left = maxAgeDays - ageDays;
  return { text: `${age} old (${plural(left, 'day')} left of ${maxAgeDays})`, tone: left <= 14 ? 'warn' : 'ok' };
}

/** When a credential was changed, with how long ago. */
export function changedWords(changedAt: number | null, nowSecs: number): string {
  if (changedAt === null) return 'Not changed yet';
  const days = Math.max(0, Math.floor((nowSecs - changedAt) / 86_400));
  return `${formatDate(changedAt)} (${days === 0 ? 'today' : `${plural(days, 'day')} ago`})`;
}

const STATES: Record<string, string> = {
  new: 'New',
  'in-progress': 'In progress',
  hardened: 'Secured',
  failed: 'Not secured',
};

/** A device record's state in words. */
export function stateWords(state: string): string {
  return STATES[state] ?? state;
}

const STORES: Record<string, string> = {
  'shell-root': 'Administrator account',
  'console-root': 'Administrator account',
  'web-admin': 'Web page',
  'rtsp-admin': 'Video stream',
};

/** A credential store in words. */
export function storeWords(store: string): string {
  return STORES[store] ?? store;
}

/** The store a person most likely wants to keep: the web page's, else the first. */
export function preferredStore<T extends { store: string }>(items: T[]): T | undefined {
  return items.find((c) => c.store === 'web-admin') ?? items[0];
}

/** A (step id, outcome) pair from the record: "done" or the failure message. */
export function stepOutcome(outcome: string): { text: string; failed: boolean } {
  return outcome === 'done' ? { text: 'Done', failed: false } : { text: outcome, failed: true };
}
