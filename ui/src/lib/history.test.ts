import { describe, expect, it } from 'vitest';
import { durationMs, filterRuns, rowWindow, scriptName, type HistoryRun } from './history';

const run = (
  id: string,
  outcome: string,
  cleanup: string,
  script = '/home/marie/p/train.py',
  launchedAt: number | null = 100,
): HistoryRun => ({
  runId: id,
  createdAt: '2026-11-26T14:30:00Z',
  outcome,
  cleanup,
  request: { scriptPath: script },
  resources: { launchedAt, endedAt: null },
  cost: null,
});

describe('history', () => {
  it('names the script', () => {
    expect(scriptName(run('a', 'running', 'none'))).toBe('train.py');
    expect(scriptName(run('a', 'running', 'none', 'C:\\Users\\m\\fit_model.py'))).toBe('fit_model.py');
    expect(scriptName({ ...run('a', 'running', 'none'), request: null })).toBe('—');
  });

  it('measures the machine time', () => {
    expect(durationMs(run('a', 'running', 'none'), 160_000)).toBe(60_000);
    expect(durationMs({ ...run('a', 'succeeded', 'deleted'), resources: { launchedAt: 100, endedAt: 400 } }, 0)).toBe(300_000);
    expect(durationMs(run('a', 'succeeded', 'deleted'), 1e9)).toBeNull();
    expect(durationMs(run('a', 'failed', 'none', 'x', null), 1e9)).toBeNull();
  });

  it('filters by result and script name', () => {
    const runs = [
      run('1', 'succeeded', 'deleted'),
      run('2', 'failed', 'none', '/p/prepare_data.py'),
      run('3', 'stopped', 'deleted'),
      run('4', 'running', 'none'),
    ];
    expect(filterRuns(runs, 'all', '').map((r) => r.runId)).toEqual(['1', '2', '3', '4']);
    expect(filterRuns(runs, 'failed', '').map((r) => r.runId)).toEqual(['2']);
    expect(filterRuns(runs, 'left', '').map((r) => r.runId)).toEqual(['2', '4']);
    expect(filterRuns(runs, 'all', ' PREP ').map((r) => r.runId)).toEqual(['2']);
    expect(filterRuns(runs, 'succeeded', 'prep')).toEqual([]);
  });

  it('puts only the rows on screen in the page', () => {
    expect(rowWindow(0, 40, 0, 400)).toEqual({ start: 0, end: 0, padTop: 0, padBottom: 0 });
    expect(rowWindow(1000, 40, 0, 400, 5)).toEqual({ start: 0, end: 15, padTop: 0, padBottom: 985 * 40 });
    const w = rowWindow(1000, 40, 4000, 400, 5);
    expect(w).toEqual({ start: 95, end: 115, padTop: 95 * 40, padBottom: 885 * 40 });
    expect(rowWindow(1000, 40, 1e9, 400, 5).end).toBe(1000);
    expect(rowWindow(3, 40, 0, 400)).toEqual({ start: 0, end: 3, padTop: 0, padBottom: 0 });
  });
});
