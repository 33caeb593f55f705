import { describe, expect, it } from 'vitest';
import { kindLabel, monthlyText, totalMonthly } from './leftovers';

describe('leftovers', () => {
  it('says what each is and what it costs a month', () => {
    expect(kindLabel('machine')).toMatch(/Machine/);
    expect(kindLabel('odd')).toBe('odd');
    expect(monthlyText({ kind: 'machine', usdPerHour: 0.737 })).toBe('$538.01/month');
    expect(monthlyText({ kind: 'stack', usdPerHour: null })).toBe('—');
    expect(
      totalMonthly([
        { kind: 'machine', usdPerHour: 0.1 },
        { kind: 'volume', usdPerHour: 0.01 },
        { kind: 'stack', usdPerHour: null },
      ]),
    ).toBe('$80.30/month');
    expect(totalMonthly([{ kind: 'stack', usdPerHour: null }])).toBeNull();
  });

  it('labels a SageMaker training job', () => {
    expect(kindLabel('trainingJob')).toBe('SageMaker training job still running');
    expect(kindLabel('secrets')).toBe('Secrets of a run (Parameter Store)');
  });
});
