import { describe, expect, it } from 'vitest';
import { maintenanceResult, maintenanceTitle, ROTATE_QUESTION } from './maintenance';

describe('maintenance words', () => {
  it('asks in plain words before rotating', () => {
    expect(ROTATE_QUESTION).toBe('The device gets new passwords; the old ones stop working. Continue?');
  });

  it('names what runs and how it ended', () => {
    expect(maintenanceTitle('rotate')).toBe('Rotating the passwords');
    expect(maintenanceTitle('renew')).toBe('Renewing the certificate');
    expect(maintenanceResult('rotate', 'secured').heading).toBe('New passwords in place');
    expect(maintenanceResult('renew', 'secured').text).toContain('new certificate');
    expect(maintenanceResult('renew', 'not-secured').heading).toBe('Not fully secured');
  });
});
