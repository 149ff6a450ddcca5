// The unlock screen's wait after repeated wrong passphrases, as pure functions of the clock (tested without one).

/** When the next unlock may be tried (ms since the epoch) after an error that asks to wait `retryAfterSecs`
 * seconds, seen at `now`; null when it asks for no wait. A later error never shortens a running wait. */
export function waitDeadline(retryAfterSecs: number | null | undefined, now: number, running: number | null = null): number | null {
  const fresh = typeof retryAfterSecs === 'number' && retryAfterSecs > 0 ? now + retryAfterSecs * 1000 : null;
  if (fresh === null) return running !== null && running > now ? running : null;
  return running !== null && running > fresh ? running : fresh;
}

/** Whole seconds left until `deadline` at `now`, rounded up: 0 only once the wait is over. */
export function secondsLeft(deadline: number | null, now: number): number {
  if (deadline === null || !Number.isFinite(deadline)) return 0;
  return Math.max(0, Math.ceil((deadline - now) / 1000));
}

/** What the countdown says. */
export function waitWords(seconds: number): string {
  return seconds === 1 ? 'You can try again in 1 second.' : `You can try again in ${seconds} seconds.`;
}
