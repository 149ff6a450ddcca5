// Pure: a run's event stream folded into what the window shows (steps with states, activity, result, error).

import type { ApiError, JobEvent, RunEvent } from '../generated/types';

export type StepState = 'pending' | 'running' | 'done' | 'skipped' | 'failed';
export type RunState = 'running' | 'secured' | 'not-secured' | 'failed';

export interface StepView {
  step: string;
  title: string;
  state: StepState;
  message: string | null;
}

export interface CheckResult {
  id: string;
  subject: string;
  passed: boolean;
  detail: string;
  guideline: string[];
}

export interface RunView {
  job: number;
  device: string;
  state: RunState;
  steps: StepView[];
  activity: string;
  serial: string | null;
  model: string | null;
  known: boolean;
  checks: CheckResult[];
  error: ApiError | null;
}

export type Runs = Readonly<Record<number, RunView>>;

export function newRun(job: number, device: string): RunView {
  return { job, device, state: 'running', steps: [], activity: '', serial: null, model: null, known: false, checks: [], error: null };
}

/** A step title without the trailing "…" that step-started adds while it runs. */
function plainTitle(title: string): string {
  return title.replace(/(…|\.\.\.)$/, '');
}

function setStep(steps: StepView[], step: string, change: Partial<StepView>, title?: string): StepView[] {
  if (!steps.some((s) => s.step === step)) {
    return [...steps, { step, title: title ?? step, state: 'pending', message: null, ...change }];
  }
  return steps.map((s) => (s.step === step ? { ...s, ...change } : s));
}

/** The run after `event`. A run that ended (finished or failed) ignores later events. */
export function reduceRun(run: RunView, event: RunEvent): RunView {
  if (run.state !== 'running') return run;
  switch (event.kind) {
    case 'started':
      return { ...run, steps: event.steps.map((s) => ({ step: s.step, title: s.title, state: 'pending', message: null })) };
    case 'identified':
      return { ...run, serial: event.serial, model: event.model, known: event.known };
    case 'step-started': {
      const title = plainTitle(event.title);
      const existing = run.steps.find((s) => s.step === event.step);
      const steps = setStep(run.steps, event.step, { state: 'running', message: null, title: existing?.title ?? title }, title);
      return { ...run, steps, activity: event.title };
    }
    case 'activity':
      return { ...run, activity: event.text };
    case 'check': {
      const { id, subject, passed, detail, guideline } = event;
      const checks = [...run.checks.filter((c) => c.id !== id), { id, subject, passed, detail, guideline }];
      return { ...run, checks };
    }
    case 'step-finished': {
      const state: StepState = !event.ok ? 'failed' : event.skipped ? 'skipped' : 'done';
      return { ...run, steps: setStep(run.steps, event.step, { state, message: event.message }) };
    }
    case 'finished': {
      // Steps the plan never reached are shown as skipped, not as waiting forever.
      const steps = run.steps.map((s) => (s.state === 'pending' || s.state === 'running' ? { ...s, state: 'skipped' as const } : s));
      const state: RunState = event.hardened ? 'secured' : 'not-secured';
      return { ...run, steps, state, serial: event.serial || run.serial, activity: '' };
    }
    case 'failed': {
      const steps = run.steps.map((s) => (s.state === 'running' ? { ...s, state: 'failed' as const } : s));
      return { ...run, steps, state: 'failed', error: event.error, activity: '' };
    }
  }
}

/** All runs after one event (a job seen for the first time starts a fresh view). */
export function applyJobEvent(runs: Runs, { job, device, event }: JobEvent): Runs {
  const run = runs[job] ?? newRun(job, device);
  return { ...runs, [job]: reduceRun(run, event) };
}

/** Adds an empty running view for a job just started (its events may already have arrived). */
export function startRun(runs: Runs, job: number, device: string): Runs {
  return runs[job] ? runs : { ...runs, [job]: newRun(job, device) };
}

/** The newest run on `device`: a retry's new job replaces the failed one. */
export function latestRun(runs: Runs, device: string): RunView | undefined {
  let latest: RunView | undefined;
  for (const run of Object.values(runs)) if (run.device === device && (!latest || run.job > latest.job)) latest = run;
  return latest;
}

export function progress(run: RunView): { done: number; total: number } {
  const done = run.steps.filter((s) => s.state === 'done' || s.state === 'skipped').length;
  return { done, total: run.steps.length };
}

export function failedChecks(run: RunView): CheckResult[] {
  return run.checks.filter((c) => !c.passed);
}
