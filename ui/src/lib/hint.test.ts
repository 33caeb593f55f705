import { describe, expect, it } from 'vitest';
import { splitCode } from './hint';

describe('splitCode', () => {
  it('marks backticked commands as code', () => {
    expect(splitCode('Start it with `python -m easytdv_sandbox` and retry.')).toEqual([
      { text: 'Start it with ', code: false },
      { text: 'python -m easytdv_sandbox', code: true },
      { text: ' and retry.', code: false },
    ]);
    expect(splitCode('plain')).toEqual([{ text: 'plain', code: false }]);
  });
});
