// Saved environments (installed requirements kept in the bucket) in plain words (pure).
import { formatUsd } from './cost';
import { parsePackage } from './requirements';

export interface EnvironmentLike {
  key: string;
  requirements: string;
  python: string;
  arch: string;
  created: string;
  sizeBytes: number | null;
  usdPerMonth: number | null;
}

/** The package names of normalised requirements text (comments, options and blank lines left out). */
export function packageNames(requirements: string): string[] {
  return requirements
    .split(/\r?\n/)
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l && !l.startsWith('#') && !l.startsWith('-'))
    .map((l) => parsePackage(l).name);
}

/** "numpy, pandas, torch and 2 more"; "no packages" for an empty list. */
export function packagesShort(requirements: string, max = 4): string {
  const names = packageNames(requirements);
  if (names.length === 0) return 'no packages';
  const shown = names.slice(0, max);
  const rest = names.length - shown.length;
  if (rest > 0) return `${shown.join(', ')} and ${rest} more`;
  if (shown.length === 1) return shown[0] ?? '';
  return `${shown.slice(0, -1).join(', ')} and ${shown[shown.length - 1]}`;
}

/** "Python 3.11.9" from "3.11.9" or "Python 3.11.9"; "Python unknown" when the machine did not say. */
export function pythonLabel(python: string): string {
  const p = python.trim().replace(/^python\s*/i, '');
  return p ? `Python ${p}` : 'Python unknown';
}

/** "x86 (Intel/AMD)" or "Arm (Graviton)"; other values as they are. */
export function archLabel(arch: string): string {
  const a = arch.trim().toLowerCase();
  if (a === 'x86_64' || a === 'amd64' || a === 'x86') return 'x86 (Intel/AMD)';
  if (a === 'arm64' || a === 'aarch64') return 'Arm (Graviton)';
  return arch.trim() || 'unknown';
}

/** "412 MB", "0.4 MB" (MB of 1024 × 1024 bytes, as the rest of the app), "—" when unknown. */
export function sizeMb(bytes: number | null): string {
  if (bytes === null || !Number.isFinite(bytes) || bytes < 0) return '—';
  const mb = bytes / (1024 * 1024);
  if (mb < 10) return `${Number(mb.toFixed(1))} MB`;
  return `${Math.round(mb).toLocaleString('en-US')} MB`;
}

/** "$0.0204/month", "under $0.01/month" for the smallest, "—" when unknown. */
export function monthlyText(usdPerMonth: number | null): string {
  if (usdPerMonth !== null && usdPerMonth > 0 && usdPerMonth < 0.01) return 'under $0.01/month';
  const s = formatUsd(usdPerMonth);
  return s ? `${s}/month` : '—';
}

/** What all the known ones cost a month, e.g. "$0.0614/month"; null when none is known. */
export function totalMonthly(list: readonly EnvironmentLike[]): string | null {
  const known = list.filter((e) => e.usdPerMonth !== null && Number.isFinite(e.usdPerMonth));
  if (known.length === 0) return null;
  return monthlyText(known.reduce((s, e) => s + (e.usdPerMonth ?? 0), 0));
}
