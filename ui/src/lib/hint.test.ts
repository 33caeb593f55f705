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

describe('links in hints', () => {
  it('finds web addresses, without the full stop that ends the sentence', () => {
    const hint =
      'Ask AWS for more here: https://eu-west-3.console.aws.amazon.com/servicequotas/home/services/ec2/quotas/L-DB2E81BA. It takes a day.';
    expect(splitCode(hint)).toEqual([
      { text: 'Ask AWS for more here: ', code: false },
      { text: 'https://eu-west-3.console.aws.amazon.com/servicequotas/home/services/ec2/quotas/L-DB2E81BA', code: false, url: true },
      { text: '. It takes a day.', code: false },
    ]);
  });
});
