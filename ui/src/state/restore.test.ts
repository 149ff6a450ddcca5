import { describe, expect, it } from 'vitest';
import { asideName, sizeWords } from './restore';

describe('restore words', () => {
  it('names where the current inventory is kept aside', () => {
    expect(asideName('/home/a/.local/share/temper/inventory.db')).toEqual({
      name: 'inventory-before-restore-<date and time>.db',
      dir: '/home/a/.local/share/temper',
    });
    expect(asideName('inv')).toEqual({ name: 'inv-before-restore-<date and time>', dir: '' });
  });

  it('sizes files in words', () => {
    expect(sizeWords(512)).toBe('512 bytes');
    expect(sizeWords(40_960)).toBe('40 KB');
    expect(sizeWords(3 * 1024 * 1024)).toBe('3.0 MB');
  });
});
