import { describe, expect, it } from 'vitest';
import { formatClock, formatUsd, meter, parseBudget, perHour, perMonth, quoteSentence, trainingQuoteSentence } from './cost';

describe('cost', () => {
  it('formats dollars for small and large amounts', () => {
    expect(formatUsd(0.0472)).toBe('$0.0472');
    expect(formatUsd(0.737)).toBe('$0.74');
    expect(formatUsd(12.345)).toBe('$12.35');
    expect(formatUsd(1234.4)).toBe('$1,234');
    expect(formatUsd(0)).toBe('$0.00');
    expect(formatUsd(null)).toBeNull();
    expect(perHour(null)).toBe('price unknown');
    expect(perHour(0.0472)).toBe('$0.0472/h');
    expect(perMonth(0.1)).toBe('$73.00/month');
    expect(perMonth(null)).toBeNull();
  });

  it('says the quote, with or without a price', () => {
    expect(quoteSentence({ usdPerHour: 0.05, safetyStopHours: 24, atMostUsd: 1.2, budgetIgnored: false })).toBe(
      'About $0.05 per hour; at most $1.20 if it runs until the safety stop (24 h).',
    );
    expect(quoteSentence({ usdPerHour: 0.05, safetyStopHours: 2.5, atMostUsd: 0.125, budgetIgnored: false })).toContain('(2.5 h)');
    expect(quoteSentence({ usdPerHour: null, safetyStopHours: 24, atMostUsd: null, budgetIgnored: true })).toMatch(/^Price unknown/);
  });

  it('reads a budget cap', () => {
    expect(parseBudget('')).toEqual({ value: null, error: null });
    expect(parseBudget(' $2,50 ')).toEqual({ value: 2.5, error: null });
    expect(parseBudget('0').error).toMatch(/amount/);
    expect(parseBudget('abc').error).toMatch(/amount/);
  });

  it('meters elapsed × price until the end or the safety stop', () => {
    const base = { launchedAt: 1000, endedAt: null, usdPerHour: 0.36, safetyStopHours: 2, machines: 1 };
    expect(meter(base, 1000 + 600)).toMatchObject({ seconds: 600, running: true, stopAt: 1000 + 7200, atMostUsd: 0.72 });
    expect(meter(base, 1600).usd).toBeCloseTo(0.06);
    // Past the safety stop: no more than the stop.
    expect(meter(base, 1000 + 10_000)).toMatchObject({ seconds: 7200, running: false });
    // Ended: frozen.
    expect(meter({ ...base, endedAt: 1300 }, 5000)).toMatchObject({ seconds: 300, running: false });
    // Several machines bill together.
    expect(meter({ ...base, machines: 2 }, 1600).usd).toBeCloseTo(0.12);
    // Unknown price, not launched yet.
    expect(meter({ ...base, usdPerHour: null }, 1600)).toMatchObject({ usd: null, atMostUsd: null, seconds: 600 });
    expect(meter({ ...base, launchedAt: null }, 1600)).toMatchObject({ seconds: 0, running: false, stopAt: null });
  });

  it('meters a relaunched run: the earlier machines count in its time and cost, and against its safety stop', () => {
    // A 2 h stop; the first machine ran 30 min ($0.50); the new one, at $0.25/h, launched at 10000.
    const run = {
      launchedAt: 10_000,
      endedAt: null,
      usdPerHour: 0.25,
      safetyStopHours: 2,
      machines: 1,
      earlierHours: 0.5,
      earlierUsd: 0.5,
    };
    expect(meter(run, 10_000 + 3600)).toMatchObject({ seconds: 5400, usd: 0.75, running: true, stopAt: 10_000 + 5400, atMostUsd: 0.875 });
    expect(meter(run, 10_000 + 9 * 3600)).toMatchObject({ seconds: 7200, usd: 0.875, running: false });
    // Between the two machines: what the first one cost.
    expect(meter({ ...run, launchedAt: null }, 5000)).toMatchObject({ seconds: 1800, usd: 0.5, running: false });
  });

  it('shows a meter clock', () => {
    expect(formatClock(65)).toBe('1:05');
    expect(formatClock(3605.7)).toBe('1:00:05');
  });

  it('says a SageMaker quote for all the machines', () => {
    const q = { usdPerHour: 2.82, safetyStopHours: 24, atMostUsd: 67.68, budgetIgnored: false };
    expect(trainingQuoteSentence(q, 2)).toBe(
      'About $2.82 per hour for 2 machines; at most $67.68 if they run until the safety stop (24 h).',
    );
    expect(trainingQuoteSentence({ ...q, usdPerHour: 1.41, atMostUsd: 33.84 }, 1)).toBe(
      'About $1.41 per hour for 1 machine; at most $33.84 if it runs until the safety stop (24 h).',
    );
    expect(trainingQuoteSentence({ ...q, atMostUsd: null }, 2)).toBe('About $2.82 per hour for 2 machines.');
    expect(trainingQuoteSentence({ ...q, usdPerHour: null }, 2)).toMatch(/^Price unknown/);
  });
});
