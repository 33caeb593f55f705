// The runs list (pure): script name, duration, cost text, filter by result and search by script name,
// and which rows are on screen (only those exist in the page).

export interface HistoryRun {
  runId: string;
  createdAt: string;
  outcome: string;
  cleanup: string;
  request: { scriptPath: string } | null;
  resources: { launchedAt: number | null; endedAt: number | null };
  cost: { usd: number | null; growing: boolean } | null;
}

/** "train.py" from "/home/marie/project/train.py" (or a Windows path). */
export function scriptName(r: HistoryRun): string {
  const p = r.request?.scriptPath ?? '';
  return p.split(/[\\/]/).pop() || '—';
}

/** How long the run's machine lived, in ms: from the launch to its end (or now, while it runs); null when never launched. */
export function durationMs(r: HistoryRun, nowMs: number): number | null {
  const from = r.resources.launchedAt;
  if (from === null) return null;
  const to = r.resources.endedAt ?? (r.outcome === 'running' || r.cleanup !== 'deleted' ? nowMs / 1000 : null);
  return to === null ? null : Math.max(0, to - from) * 1000;
}

export type ResultFilter = 'all' | 'running' | 'succeeded' | 'failed' | 'stopped' | 'left';

export const RESULT_FILTERS: { value: ResultFilter; label: string }[] = [
  { value: 'all', label: 'All results' },
  { value: 'running', label: 'Running' },
  { value: 'succeeded', label: 'Finished' },
  { value: 'failed', label: 'Failed' },
  { value: 'stopped', label: 'Stopped' },
  { value: 'left', label: 'Not cleaned up' },
];

export function filterRuns<T extends HistoryRun>(runs: readonly T[], result: ResultFilter, query: string): T[] {
  const q = query.trim().toLowerCase();
  return runs.filter((r) => {
    if (result === 'left') {
      if (r.cleanup === 'deleted') return false;
    } else if (result !== 'all' && r.outcome !== result) return false;
    return !q || scriptName(r).toLowerCase().includes(q);
  });
}

export interface RowWindow {
  start: number;
  end: number;
  padTop: number;
  padBottom: number;
}

/** The rows to put in the page for a scroll position: those on screen plus `overscan` on each side. */
export function rowWindow(count: number, rowHeight: number, scrollTop: number, viewHeight: number, overscan = 8): RowWindow {
  if (count <= 0) return { start: 0, end: 0, padTop: 0, padBottom: 0 };
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const start = Math.max(0, Math.min(count - 1, first) - overscan);
  const end = Math.min(count, first + Math.ceil(Math.max(viewHeight, rowHeight) / rowHeight) + overscan);
  return { start, end, padTop: start * rowHeight, padBottom: (count - end) * rowHeight };
}
