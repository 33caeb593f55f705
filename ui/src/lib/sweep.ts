// A sweep as the wizard's Review step holds it (the text the person types), and what the sweep page computes.
import type { BestBy, GridAxis, RunRecord, SweepMode, SweepValues } from './api';

export interface SweepDraft {
  on: boolean;
  kind: 'grid' | 'list';
  /** One argument a line: `lr = 0.1, 0.01`. */
  gridText: string;
  /** One run's whole argument line a line. */
  listText: string;
  mode: 'parallel' | 'oneMachine';
  /** At most this many machines at once, as typed. */
  atOnce: number | string;
  stopOnFailure: boolean;
}

export function emptySweep(): SweepDraft {
  return { on: false, kind: 'grid', gridText: '', listText: '', mode: 'parallel', atOnce: 4, stopOnFailure: false };
}

/** The grid's lines as axes; a line without `=` is an error (the backend checks names and values). */
export function parseGrid(text: string): { axes: GridAxis[]; error: string | null } {
  const axes: GridAxis[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const at = line.indexOf('=');
    if (at < 0) return { axes, error: `Line ${i + 1}: write it as name = value, value (e.g. lr = 0.1, 0.01).` };
    axes.push({
      name: line.slice(0, at).trim().replace(/^-+/, ''),
      values: line
        .slice(at + 1)
        .split(',')
        .map((v) => v.trim()),
    });
  }
  return { axes, error: null };
}

export function sweepValues(d: SweepDraft): { values: SweepValues | null; error: string | null } {
  if (d.kind === 'list') return { values: { kind: 'list', lines: d.listText.split('\n') }, error: null };
  const { axes, error } = parseGrid(d.gridText);
  return error ? { values: null, error } : { values: { kind: 'grid', axes }, error: null };
}

export function sweepMode(d: SweepDraft): SweepMode {
  return d.mode === 'oneMachine' ? { kind: 'oneMachine' } : { kind: 'parallel', atOnce: Math.trunc(Number(d.atOnce)) || 0 };
}

/** Each run's and the whole sweep's most (the budget cap shared evenly: each run stops itself at its share). */
export function sweepCost(
  runs: number,
  usdPerHour: number | null,
  maxHours: number,
  budget: number | null,
): { perRunHours: number; perRunUsd: number | null; totalUsd: number | null } {
  const share = budget !== null && runs > 0 ? budget / runs : null;
  const perRunHours = usdPerHour && share !== null ? Math.min(maxHours, share / usdPerHour) : maxHours;
  const perRunUsd = usdPerHour === null ? null : usdPerHour * perRunHours;
  return { perRunHours, perRunUsd, totalUsd: perRunUsd === null ? null : perRunUsd * runs };
}

export type SortKey = 'index' | 'status' | 'cost' | { metric: string };

/** The final value of a metric a run reported (null: none). */
export function finalValue(r: RunRecord | null, metric: string): number | null {
  const v = r?.summary?.finalMetrics?.[metric];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Row order for the sweep table: runs without the value last, whichever the direction. */
export function sortRows<T extends { index: number; run: RunRecord | null; status: string }>(rows: T[], key: SortKey, asc: boolean): T[] {
  const value = (r: T): number | string | null =>
    key === 'index' ? r.index : key === 'status' ? r.status : key === 'cost' ? (r.run?.cost?.usd ?? null) : finalValue(r.run, key.metric);
  return [...rows].sort((a, b) => {
    const [x, y] = [value(a), value(b)];
    if (x === null && y === null) return a.index - b.index;
    if (x === null) return 1;
    if (y === null) return -1;
    const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
    return (asc ? c : -c) || a.index - b.index;
  });
}

/** Lower is better for losses and errors, higher for accuracies and scores (the backend's rule). */
export function lowerIsBetter(name: string): boolean {
  const n = name.toLowerCase();
  return !['acc', 'f1', 'auc', 'precision', 'recall', 'score', 'r2', 'iou', 'bleu'].some((h) => n.includes(h));
}

export function bestByText(by: BestBy): string {
  return `${by.metric}, ${by.lowerIsBetter ? 'lowest' : 'highest'} wins`;
}
