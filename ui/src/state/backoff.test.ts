import { describe, expect, it } from 'vitest';
import { secondsLeft, waitDeadline, waitWords } from './backoff';

const now = 1_700_000_000_000;

describe('unlock back-off countdown', () => {
  it('starts a wait only when the error asks for one', () => {
    expect(waitDeadline(null, now)).toBeNull();
    expect(waitDeadline(undefined, now)).toBeNull();
    expect(waitDeadline(0, now)).toBeNull();
    expect(waitDeadline(4, now)).toBe(now + 4000);
  });

  it('never shortens a running wait, and forgets one that is over', () => {
    expect(waitDeadline(1, now, now + 8000)).toBe(now + 8000);
    expect(waitDeadline(8, now, now + 1000)).toBe(now + 8000);
    expect(waitDeadline(null, now, now + 3000)).toBe(now + 3000);
    expect(waitDeadline(null, now, now - 1)).toBeNull();
  });

  it('counts whole seconds down, rounding up, and reaches 0 exactly at the deadline', () => {
    const deadline = waitDeadline(4, now);
    expect(secondsLeft(deadline, now)).toBe(4);
    expect(secondsLeft(deadline, now + 1)).toBe(4);
    expect(secondsLeft(deadline, now + 1000)).toBe(3);
    expect(secondsLeft(deadline, now + 3999)).toBe(1);
    expect(secondsLeft(deadline, now + 4000)).toBe(0);
    expect(secondsLeft(deadline, now + 60_000)).toBe(0);
    expect(secondsLeft(null, now)).toBe(0);
  });

  it('says it in words', () => {
    expect(waitWords(1)).toBe('You can try again in 1 second.');
    expect(waitWords(32)).toBe('You can try again in 32 seconds.');
  });
});
