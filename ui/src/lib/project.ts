// What the Code step says about the project folder: what is sent, what is left out, in plain words.
import type { ProjectSummary } from './api';

export interface ProjectWords {
  /** "5 files, 12 KB will be sent". */
  headline: string;
  /** The largest files, "data/points.csv (1.2 GB)". */
  largest: string[];
  /** "Never sent: .git, .venv." or null when the folder has none of them. */
  neverSent: string | null;
  /** Files skipped and why (a link out of the folder…). */
  notes: string[];
  /** The large-project warning, or null. */
  warning: string | null;
}

/** Show the largest files only when there is more than one file (one file is the script itself). */
export function describeProject(summary: ProjectSummary): ProjectWords {
  return {
    headline: `${summary.headline} will be sent`,
    largest: summary.fileCount > 1 ? summary.largest.map((f) => `${f.path} (${f.size})`) : [],
    neverSent: summary.neverSent.length > 0 ? `Never sent: ${summary.neverSent.join(', ')}.` : null,
    notes: summary.notes,
    warning: summary.warning ?? null,
  };
}

/** The folder a file is in ("/home/me/proj/train.py" → "/home/me/proj"). */
export function folderOf(path: string): string {
  const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return i > 0 ? path.slice(0, i) : path;
}
