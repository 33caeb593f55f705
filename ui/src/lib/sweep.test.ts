import { describe, expect, it } from 'vitest';
import type { RunRecord } from './api';
import { emptySweep, parseGrid, sortRows, sweepCost, sweepMode, sweepValues } from './sweep';

describe('sweep drafts', () => {
  it('reads a grid a line at a time, dashes and spaces dropped', () => {
    expect(parseGrid('lr = 0.1, 0.01\n\n# comment\n--epochs=5,10')).toEqual({
      axes: [
        { name: 'lr', values: ['0.1', '0.01'] },
        { name: 'epochs', values: ['5', '10'] },
      ],
      error: null,
    });
    expect(parseGrid('lr 0.1').error).toContain('Line 1');
  });

  it('gives the backend its values and mode', () => {
    const d = { ...emptySweep(), kind: 'list' as const, listText: '--lr 1\n--lr 2', mode: 'oneMachine' as const };
    expect(sweepValues(d).values).toEqual({ kind: 'list', lines: ['--lr 1', '--lr 2'] });
    expect(sweepMode(d)).toEqual({ kind: 'oneMachine' });
    expect(sweepMode({ ...d, mode: 'parallel', atOnce: '3' })).toEqual({ kind: 'parallel', atOnce: 3 });
    expect(sweepMode({ ...d, mode: 'parallel', atOnce: 'x' })).toEqual({ kind: 'parallel', atOnce: 0 });
  });

  it('shares the budget cap evenly between the runs', () => {
    // $1/hour, 24 h at most, $6 for 6 runs: each stops itself after 1 h.
    expect(sweepCost(6, 1, 24, 6)).toEqual({ perRunHours: 1, perRunUsd: 1, totalUsd: 6 });
    // No cap: each may run its maximum time.
    expect(sweepCost(3, 0.5, 2, null)).toEqual({ perRunHours: 2, perRunUsd: 1, totalUsd: 3 });
    expect(sweepCost(3, null, 2, 5).totalUsd).toBeNull();
  });

  it('sorts by a metric, runs without it last either way', () => {
    const run = (loss: number | null) => ({ summary: { finalMetrics: loss === null ? {} : { loss } } }) as unknown as RunRecord;
    const rows = [
      { index: 0, run: run(0.5), status: 'b' },
      { index: 1, run: null, status: 'a' },
      { index: 2, run: run(0.2), status: 'c' },
    ];
    expect(sortRows(rows, { metric: 'loss' }, true).map((r) => r.index)).toEqual([2, 0, 1]);
    expect(sortRows(rows, { metric: 'loss' }, false).map((r) => r.index)).toEqual([0, 2, 1]);
    expect(sortRows(rows, 'status', true).map((r) => r.index)).toEqual([1, 0, 2]);
  });
});
