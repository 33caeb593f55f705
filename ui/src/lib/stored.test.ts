import { describe, expect, it } from 'vitest';
import { deletedText, filesSize, storedTotal } from './stored';

describe('stored files in plain words', () => {
  it('sizes', () => {
    expect(filesSize(0)).toBe('0 B');
    expect(filesSize(1536)).toBe('1.5 KB');
    expect(filesSize(null)).toBe('—');
  });
  it('says what a delete did and kept', () => {
    expect(deletedText({ deleted: 12, kept: 0, bytesFreed: 1536 })).toBe('Deleted 12 files (1.5 KB freed).');
    expect(deletedText({ deleted: 1, kept: 3, bytesFreed: 10 })).toBe(
      'Deleted 1 file (10 B freed); 3 files a run in progress uses were kept.',
    );
    expect(deletedText({ deleted: 0, kept: 1, bytesFreed: 0 })).toBe('Nothing to delete; 1 file a run in progress uses was kept.');
  });
  it('totals only when every part is known', () => {
    expect(storedTotal([0.02, 0.0432])).toBe('$0.0632/month');
    expect(storedTotal([0.02, null])).toBeNull();
    expect(storedTotal([0.001])).toBe('under $0.01/month');
  });
});
