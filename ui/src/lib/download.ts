// Words and numbers of the outputs download (RunOutputs shows them). Pure.
import { formatBytes, plural } from './format';

export interface ProgressLike {
  filesDone: number;
  filesTotal: number;
  bytesDone: number | null;
  bytesTotal: number | null;
  secondsLeft?: number | null;
}

export interface ReportLike {
  files: number;
  skipped: number;
  bytes: number | null;
}

/** How far the download is, 0..1 (by bytes when their total is known, else by files); null: not known yet. */
export function progressFraction(p: ProgressLike): number | null {
  if (p.bytesTotal !== null && p.bytesTotal > 0 && p.bytesDone !== null) return Math.min(1, Math.max(0, p.bytesDone / p.bytesTotal));
  if (p.filesTotal > 0) return Math.min(1, p.filesDone / p.filesTotal);
  return null;
}

/** 40 → "about 40 s left", 150 → "about 3 min left", 4800 → "about 1 h 20 min left". */
export function timeLeftText(seconds: number | null | undefined): string | null {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return null;
  if (seconds < 5) return 'a few seconds left';
  if (seconds < 60) return `about ${Math.round(seconds / 5) * 5} s left`;
  const min = Math.round(seconds / 60);
  if (min < 60) return `about ${min} min left`;
  return `about ${Math.floor(min / 60)} h ${String(min % 60).padStart(2, '0')} min left`;
}

/** "12 of 300 files · 45 MB of 120 MB · about 2 min left". */
export function downloadProgressText(p: ProgressLike): string {
  if (p.filesTotal === 0) return 'Looking for the files…';
  const parts = [`${p.filesDone} of ${plural(p.filesTotal, 'file')}`];
  if (p.bytesTotal !== null && p.bytesDone !== null) parts.push(`${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}`);
  const left = timeLeftText(p.secondsLeft);
  if (left && p.filesDone < p.filesTotal) parts.push(left);
  return parts.join(' · ');
}

/** "Saved 5 files (2 already there) to" — the folder follows. */
export function downloadResultText(r: ReportLike): string {
  if (r.files === 0) return 'There were no output files to save. The folder is';
  if (r.skipped >= r.files) return `All ${plural(r.files, 'file')} were already there, complete, in`;
  const size = r.bytes !== null && r.bytes > 0 ? `, ${formatBytes(r.bytes)}` : '';
  const already = r.skipped > 0 ? ` (${r.skipped} already there)` : '';
  return `Saved ${plural(r.files, 'file')}${already}${size} to`;
}

/** The entry point's file name: "Train Model.ipynb" from "/home/marie/Train Model.ipynb" (or a Windows path). */
export function entryName(scriptPath: string | null | undefined): string {
  return (scriptPath ?? '').split(/[\\/]/).pop() || 'train.py';
}

/**
 * The executed notebook a notebook's run leaves in its outputs ("train.ipynb" → "train.executed.ipynb",
 * as train.sh and the core name it); null for a script's run.
 */
export function executedNotebookName(scriptPath: string | null | undefined): string | null {
  const name = entryName(scriptPath);
  const m = /^(.+)\.ipynb$/i.exec(name);
  return m ? `${m[1]}.executed.ipynb` : null;
}
