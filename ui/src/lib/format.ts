// Display helpers (pure).

export interface RegionLike {
  code: string;
  name: string;
}

/** "Europe (Paris) — eu-west-3"; just the code when the name is unknown. */
export function formatRegion(region: RegionLike | null | undefined): string {
  if (!region) return '';
  const name = region.name.trim();
  if (!name || name === region.code) return region.code;
  return `${name} — ${region.code}`;
}

export function regionLabel(code: string, regions: readonly RegionLike[]): string {
  const r = regions.find((x) => x.code === code);
  return r ? formatRegion(r) : code;
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** Memory from MiB: 4096 → "4 GiB", 512 → "0.5 GiB". */
export function formatMemory(mib: number): string {
  const gib = mib / 1024;
  if (gib >= 10 || Number.isInteger(gib)) return `${Math.round(gib)} GiB`;
  return `${Number(gib.toFixed(1))} GiB`;
}

/** Elapsed time: 950 → "0.9 s", 65000 → "1 min 05 s", 3723000 → "1 h 02 min". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 10_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)} s`;
  const totalS = Math.floor(ms / 1000);
  if (totalS < 60) return `${totalS} s`;
  const h = Math.floor(totalS / 3600);
  const m = Math.floor((totalS % 3600) / 60);
  const s = totalS % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`;
  return `${m} min ${String(s).padStart(2, '0')} s`;
}

export function formatDateTime(value: string | number | Date): string {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** A short date for narrow places: "Nov 22, 9:00 AM" this year, "Nov 22, 2025" in another year (local time). */
export function formatShortDateTime(value: string | number | Date, now: Date = new Date()): string {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  if (d.getFullYear() !== now.getFullYear()) return d.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
  return d.toLocaleString(undefined, { day: 'numeric', month: 'short', hour: 'numeric', minute: '2-digit' });
}

/** "09:05" (24-hour clock, local time). */
export function clockTime(d: Date): string {
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

export interface RequestLike {
  instanceType: string;
  engine?: { kind: 'ec2' } | { kind: 'sageMaker'; instanceCount: number; spot: boolean };
}

/** What a run ran on, short: "t3.medium", or "2 × ml.g5.xlarge (SageMaker)". */
export function machineText(request: RequestLike | null | undefined): string | null {
  if (!request) return null;
  const e = request.engine;
  if (e?.kind !== 'sageMaker') return request.instanceType;
  return `${e.instanceCount > 1 ? `${e.instanceCount} × ` : ''}${request.instanceType} (SageMaker${e.spot ? ', spot' : ''})`;
}
