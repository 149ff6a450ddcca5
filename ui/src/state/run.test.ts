import { describe, expect, it } from 'vitest';
import type { JobEvent, RunEvent } from '../generated/types';
import { applyJobEvent, failedChecks, latestRun, newRun, progress, reduceRun, startRun, type Runs } from './run';

const started: RunEvent = {
  kind: 'started',
  steps: [
    { step: 'identify', title: 'Identify the device' },
    { step: 'rotate-credentials', title: 'Replace the factory passwords' },
    { step: 'verify', title: 'Check from outside' },
  ],
};
const fold = (events: RunEvent[]) => events.reduce(reduceRun, newRun(1, 'usb-1'));
const states = (events: RunEvent[]) => fold(events).steps.map((s) => `${s.step}:${s.state}`);

describe('run reducer', () => {
  it('lists the steps as pending, then marks them as they start and finish, in order', () => {
    expect(states([started])).toEqual(['identify:pending', 'rotate-credentials:pending', 'verify:pending']);
    const events: RunEvent[] = [
      started,
      { kind: 'step-started', step: 'identify', title: 'Identify the device…' },
      { kind: 'activity', step: 'identify', text: 'Logging in on the console…' },
    ];
    const run = fold(events);
    expect(run.steps[0]).toMatchObject({ state: 'running', title: 'Identify the device' });
    expect(run.activity).toBe('Logging in on the console…');
    expect(run.state).toBe('running');
    const later = fold([...events,
      { kind: 'step-finished', step: 'identify', ok: true, skipped: false, message: null },
      { kind: 'step-started', step: 'rotate-credentials', title: 'Replace the factory passwords…' }]);
    expect(later.steps.map((s) => s.state)).toEqual(['done', 'running', 'pending']);
    expect(later.activity).toBe('Replace the factory passwords…');
    expect(progress(later)).toEqual({ done: 1, total: 3 });
  });

  it('marks a step with nothing to do (a resumed run) as skipped, and it counts as progress', () => {
    const run = fold([started,
      { kind: 'identified', serial: 'SV123', model: 'SV-IPC2100', firmware: '1.0', known: true },
      { kind: 'step-started', step: 'rotate-credentials', title: 'x…' },
      { kind: 'step-finished', step: 'rotate-credentials', ok: true, skipped: true, message: null }]);
    expect(run.steps[1].state).toBe('skipped');
    expect(run).toMatchObject({ serial: 'SV123', model: 'SV-IPC2100', known: true });
    expect(progress(run).done).toBe(1);
  });

  it('ends secured or not secured; unreached steps become skipped; failed checks are listed', () => {
    const check = (id: string, passed: boolean): RunEvent => ({ kind: 'check', id, subject: id, passed, detail: 'seen', guideline: ['5.1-1'] });
    const secured = fold([started, check('telnet', true), { kind: 'finished', hardened: true, serial: 'SV1' }]);
    expect(secured.state).toBe('secured');
    expect(secured.steps.every((s) => s.state === 'skipped')).toBe(true);
    const partial = fold([started, check('telnet', true), check('tls', false), check('telnet', false),
      { kind: 'finished', hardened: false, serial: 'SV1' }]);
    expect(partial.state).toBe('not-secured');
    expect(failedChecks(partial).map((c) => c.id)).toEqual(['tls', 'telnet']);
    expect(partial.checks).toHaveLength(2);
  });

  it('a failure marks the running step failed, keeps the error, and ignores anything after it', () => {
    const error = { code: 'device-lost' as const, message: 'The device stopped answering.', help: 'Check the cable, then press Retry.', retry_after_secs: null };
    const run = fold([started,
      { kind: 'step-started', step: 'identify', title: 'Identify…' },
      { kind: 'failed', error },
      { kind: 'finished', hardened: true, serial: 'late' }]);
    expect(run.state).toBe('failed');
    expect(run.error).toEqual(error);
    expect(run.steps[0].state).toBe('failed');
    expect(run.activity).toBe('');
  });

  it('a failed step carries its message', () => {
    const run = fold([started, { kind: 'step-finished', step: 'verify', ok: false, skipped: false, message: 'port 23 open' }]);
    expect(run.steps[2]).toMatchObject({ state: 'failed', message: 'port 23 open' });
  });

  it('adds a step that was not announced instead of dropping it', () => {
    const run = fold([started, { kind: 'step-started', step: 'certificate', title: 'Give it a certificate…' }]);
    expect(run.steps[run.steps.length - 1]).toMatchObject({ step: 'certificate', title: 'Give it a certificate', state: 'running' });
  });

  it('keeps runs apart by job; a retry is a new job that starts fresh and becomes the latest', () => {
    const ev = (job: number, event: RunEvent): JobEvent => ({ job, device: 'usb-1', event });
    let runs: Runs = {};
    // Events may arrive before secure_device answers with the job id.
    runs = applyJobEvent(runs, ev(1, started));
    runs = startRun(runs, 1, 'usb-1');
    expect(runs[1].steps).toHaveLength(3);
    runs = applyJobEvent(runs, ev(1, { kind: 'failed', error: { code: 'device-lost', message: 'lost', help: null, retry_after_secs: null } }));
    runs = startRun(runs, 2, 'usb-1');
    expect(latestRun(runs, 'usb-1')).toMatchObject({ job: 2, state: 'running', error: null, steps: [] });
    runs = applyJobEvent(runs, ev(2, started));
    expect(latestRun(runs, 'usb-1')?.steps.every((s) => s.state === 'pending')).toBe(true);
    expect(runs[1].state).toBe('failed');
    expect(latestRun(runs, 'other')).toBeUndefined();
  });

  it('does not mutate the previous view', () => {
    const before = fold([started]);
    const copy = JSON.stringify(before);
    reduceRun(before, { kind: 'step-started', step: 'identify', title: 'x…' });
    expect(JSON.stringify(before)).toBe(copy);
  });
});
