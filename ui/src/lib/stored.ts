// What is stored in the run buckets (project and data files, saved environments) in plain words (pure).
import { monthlyText } from './environments';
import { formatBytes, plural } from './format';

export interface DeletedLike {
  deleted: number;
  kept: number;
  bytesFreed: number | null;
}

/** "1.2 GB", "0 B"; "—" when unknown. */
export function filesSize(bytes: number | null): string {
  if (bytes === null) return '—';
  return formatBytes(bytes) || '—';
}

/** "Deleted 12 files (1.2 MB freed); 3 files a run in progress uses were kept." */
export function deletedText(d: DeletedLike): string {
  const freed = d.bytesFreed !== null && d.bytesFreed > 0 ? ` (${filesSize(d.bytesFreed)} freed)` : '';
  const head = d.deleted === 0 ? 'Nothing to delete' : `Deleted ${plural(d.deleted, 'file')}${freed}`;
  if (d.kept === 0) return `${head}.`;
  return `${head}; ${plural(d.kept, 'file')} a run in progress uses ${d.kept === 1 ? 'was' : 'were'} kept.`;
}

/** What everything listed costs a month, e.g. "$0.0632/month"; null while a part is not known. */
export function storedTotal(parts: readonly (number | null)[]): string | null {
  if (parts.some((p) => p === null || !Number.isFinite(p))) return null;
  return monthlyText(parts.reduce<number>((s, p) => s + (p ?? 0), 0));
}
