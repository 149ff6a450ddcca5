// Pure: the words of the device page's maintenance runs ("Rotate passwords now", "Renew certificate").

import type { RunState } from './run';

export type MaintenanceKind = 'rotate' | 'renew';

/** Asked inline before the passwords are rotated (no window.confirm). */
export const ROTATE_QUESTION = 'The device gets new passwords; the old ones stop working. Continue?';

/** The heading above a run's steps. */
export function maintenanceTitle(kind: MaintenanceKind): string {
  return kind === 'rotate' ? 'Rotating the passwords' : 'Renewing the certificate';
}

/** The result of a run that went to its end. */
export function maintenanceResult(kind: MaintenanceKind, state: Extract<RunState, 'secured' | 'not-secured'>): { heading: string; text: string } {
  if (state === 'secured') {
    return kind === 'rotate'
      ? { heading: 'New passwords in place', text: 'The device has new passwords and the old ones no longer work. Temper checked it from outside. Show the password below to keep it.' }
      : { heading: 'New certificate in place', text: 'The device made a new key and uses its new certificate. Temper checked it from outside.' };
  }
  return {
    heading: 'Not fully secured',
    text: kind === 'rotate'
      ? 'The passwords were changed, but some checks from outside did not pass.'
      : 'The certificate was renewed, but some checks from outside did not pass.',
  };
}
