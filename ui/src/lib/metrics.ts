// The script's metrics as curves for the charts: from runMetrics (the past), live points from the
// run's channel, several runs overlaid for a comparison, and a compact line of final values. Pure.

export interface SeriesLike {
  name: string;
  byStep: boolean;
  x: (number | null)[];
  y: (number | null)[];
}

export interface PointLike {
  name: string;
  value: number | null;
  step?: number | null;
  atMs: number | null;
}

/** One metric's curve, x ascending. */
export interface Curve {
  name: string;
  /** x is the step/epoch the script named; false: seconds since the script's first line. */
  byStep: boolean;
  x: number[];
  y: (number | null)[];
}

export type Curves = Map<string, Curve>;

/** The curves runMetrics returned (points without an x are left out). */
export function fromSeries(series: readonly SeriesLike[]): Curves {
  const out: Curves = new Map();
  for (const s of series) {
    const c: Curve = { name: s.name, byStep: s.byStep, x: [], y: [] };
    s.x.forEach((x, i) => {
      if (x === null || !Number.isFinite(x)) return;
      put(c, x, s.y[i] ?? null);
    });
    out.set(s.name, c);
  }
  return out;
}

/** Inserts (or replaces, at the same x) one value, keeping x ascending. */
function put(c: Curve, x: number, y: number | null): void {
  const n = c.x.length;
  if (n === 0 || x > (c.x[n - 1] as number)) {
    c.x.push(x);
    c.y.push(y);
    return;
  }
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((c.x[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  if (c.x[lo] === x) c.y[lo] = y;
  else {
    c.x.splice(lo, 0, x);
    c.y.splice(lo, 0, y);
  }
}

/**
 * Adds live points. x is the point's step, or its time in seconds since `t0Ms` (the script's first
 * line) when the script named no step. Returns the names of the curves that changed.
 */
export function addPoints(curves: Curves, points: readonly PointLike[], t0Ms: number | null): string[] {
  const changed = new Set<string>();
  for (const p of points) {
    const byStep = p.step !== null && p.step !== undefined;
    let x: number;
    if (byStep) x = p.step as number;
    else if (p.atMs !== null && t0Ms !== null) x = Math.max(0, (p.atMs - t0Ms) / 1000);
    else continue;
    let c = curves.get(p.name);
    if (!c) {
      c = { name: p.name, byStep, x: [], y: [] };
      curves.set(p.name, c);
    }
    put(c, x, p.value);
    changed.add(p.name);
  }
  return [...changed];
}

/** The curves in the order the charts show them: loss first, then accuracy-like, then by name. */
export function orderedNames(names: Iterable<string>): string[] {
  const rank = (n: string) => (/loss/i.test(n) ? 0 : /acc|f1|auc|precision|recall|score/i.test(n) ? 1 : 2);
  return [...names].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b, 'en', { numeric: true }));
}

/** 0.123456 → "0.1235", 12345.6 → "12346", 0.0000123 → "1.23e-5". */
export function formatValue(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-3)
    return v
      .toExponential(2)
      .replace(/e([+-])0*(\d)/, 'e$1$2')
      .replace('e+', 'e');
  if (a >= 1000) return String(Math.round(v));
  return String(Number(v.toPrecision(4)));
}

/** "loss 0.2 · acc 0.93 · +2 more" (the history list's final values). */
export function finalMetricsText(values: Record<string, number | null> | undefined | null, max = 3): string {
  const names = orderedNames(Object.keys(values ?? {}));
  if (names.length === 0) return '';
  const shown = names.slice(0, max).map((n) => `${n} ${formatValue(values?.[n])}`);
  if (names.length > max) shown.push(`+${names.length - max} more`);
  return shown.join(' · ');
}

/** Several runs' curves of one metric on one x axis (the union of their x; null where a run has no value). */
export interface Overlay {
  name: string;
  byStep: boolean;
  x: number[];
  /** One per run, in the order of the runs given (null for a run without this metric). */
  ys: ((number | null)[] | null)[];
}

export function overlay(runs: readonly (readonly SeriesLike[])[]): Overlay[] {
  const perRun = runs.map((series) => fromSeries(series));
  // A metric by step and the same one by time do not share an axis.
  const keys = new Map<string, { name: string; byStep: boolean }>();
  for (const curves of perRun) for (const c of curves.values()) keys.set(`${c.name}\u0000${c.byStep}`, { name: c.name, byStep: c.byStep });
  const out: Overlay[] = [];
  for (const [, { name, byStep }] of keys) {
    const xs = new Set<number>();
    for (const curves of perRun) {
      const c = curves.get(name);
      if (c && c.byStep === byStep) for (const x of c.x) xs.add(x);
    }
    const x = [...xs].sort((a, b) => a - b);
    const index = new Map(x.map((v, i) => [v, i]));
    const ys = perRun.map((curves) => {
      const c = curves.get(name);
      if (!c || c.byStep !== byStep) return null;
      const y: (number | null)[] = new Array<number | null>(x.length).fill(null);
      c.x.forEach((v, i) => (y[index.get(v) as number] = c.y[i] ?? null));
      return y;
    });
    out.push({ name, byStep, x, ys });
  }
  const order = orderedNames(new Set(out.map((o) => o.name)));
  return out.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name) || Number(b.byStep) - Number(a.byStep));
}

/** Colours of the runs in a comparison (and of the one curve of a run). */
export const RUN_COLOURS = ['#2f6fe4', '#d1495b', '#1f9e89', '#e08a1e', '#8e5bd6', '#6b8e23'];
