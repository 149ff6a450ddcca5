import { describe, expect, it } from 'vitest';
import { certificateExpiry, changedWords, credentialAge, daysLeftWords, formatDate, formatDateTime, preferredStore, stateWords, stepOutcome, storeWords } from './format';

const DAY = 86_400;
const t = Date.UTC(2025, 2, 1, 14, 5) / 1000; // tests run with TZ=UTC

describe('format', () => {
  it('formats dates', () => {
    expect(formatDate(t)).toBe('2025-03-01');
    expect(formatDateTime(t)).toBe('2025-03-01 14:05');
  });

  it('says days left in words', () => {
    expect(daysLeftWords(1)).toBe('1 day left');
    expect(daysLeftWords(364)).toBe('364 days left');
    expect(daysLeftWords(0)).toBe('expires today');
    expect(daysLeftWords(-3)).toBe('expired 3 days ago');
  });

  it('shows the certificate expiry with how worried to look', () => {
    expect(certificateExpiry(null, null)).toEqual({ text: 'No certificate', tone: 'none' });
    expect(certificateExpiry(t, 364)).toEqual({ text: '2025-03-01 (364 days left)', tone: 'ok' });
    expect(certificateExpiry(t, 30).tone).toBe('warn');
    expect(certificateExpiry(t, -1)).toEqual({ text: '2025-03-01 (expired 1 day ago)', tone: 'bad' });
  });

  it('compares the credential age with the policy and flags an expired one', () => {
    expect(credentialAge(null, 90, false).text).toBe('Not changed yet');
    expect(credentialAge(5, null, false)).toEqual({ text: '5 days old (no expiry)', tone: 'ok' });
    expect(credentialAge(10, 90, false)).toEqual({ text: '10 days old (80 days left of 90)', tone: 'ok' });
    expect(credentialAge(80, 90, false).tone).toBe('warn');
    expect(credentialAge(91, 90, true)).toEqual({ text: '91 days old, over the 90-day limit: change it', tone: 'bad' });
    // The backend's flag wins even if the numbers look fine (e.g. a tighter policy on another store).
    expect(credentialAge(1, 90, true).tone).toBe('bad');
  });

  it('says when a credential changed', () => {
    expect(changedWords(null, t)).toBe('Not changed yet');
    expect(changedWords(t, t + 100)).toBe('2025-03-01 (today)');
    expect(changedWords(t, t + 2 * DAY)).toBe('2025-03-01 (2 days ago)');
  });

  it('names states, stores and step outcomes in plain words', () => {
    expect(stateWords('hardened')).toBe('Secured');
    expect(stateWords('failed')).toBe('Not secured');
    expect(stateWords('odd')).toBe('odd');
    expect(storeWords('web-admin')).toBe('Web page');
    expect(storeWords('<b>x</b>')).toBe('<b>x</b>');
    expect(stepOutcome('done')).toEqual({ text: 'Done', failed: false });
    expect(stepOutcome('port 23 open')).toEqual({ text: 'port 23 open', failed: true });
  });

  it('prefers the web page password for the label', () => {
    expect(preferredStore([{ store: 'shell-root' }, { store: 'web-admin' }])?.store).toBe('web-admin');
    expect(preferredStore([{ store: 'shell-root' }])?.store).toBe('shell-root');
    expect(preferredStore([])).toBeUndefined();
  });
});
