// What the machine reported about a run (RunRecord.summary, RunResources.zone), in plain words. Pure.

export interface SummaryLike {
  phases?: { log: string; name: string; seconds: number | null }[];
  python?: string | null;
  installer?: string | null;
  environment?: string | null;
  preinstalled?: string | null;
  shutdownNotice?: string | null;
}

const PHASES: Record<string, string> = {
  boot: 'Start-up script of the machine',
  download: 'Fetch your files',
  python: 'Get Python ready',
  env: 'Create the Python environment',
  install: 'Install your packages',
  // Before the install: look for a saved environment, restore it on a hit.
  cache: 'Find and restore a saved environment',
  // After a fresh install, beside train.py (the time overlaps the training).
  'cache-save': 'Save the environment for next time (alongside train.py)',
  train: 'Run train.py',
  upload: 'Upload the outputs and logs',
};

export function phaseLabel(name: string, log?: string): string {
  // The training command fetches train.py again (a retry runs the fixed script).
  if (name === 'download' && log === 'train') return 'Fetch train.py for the training';
  return PHASES[name] ?? name.charAt(0).toUpperCase() + name.slice(1).replace(/[_-]/g, ' ');
}

/** "12.5 s", "3 min 05 s". */
export function phaseSeconds(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '—';
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${String(Math.round(s % 60)).padStart(2, '0')} s`;
}

/** The environment line with a capital: "Reused the environment of 2026-12-01 10:20 UTC". */
export function environmentText(env: string | null | undefined): string | null {
  if (!env) return null;
  return env.charAt(0).toUpperCase() + env.slice(1);
}

/**
 * The machine's own "machine will shut down at 2026-12-02T11:00:00Z unless you retry" as a sentence
 * with the local time: "This machine shuts itself down at 11:00 unless you retry; it costs money until then."
 * The notice as it is when it holds no time.
 */
export function shutdownSentence(notice: string | null | undefined, now: Date = new Date()): string | null {
  if (!notice) return null;
  const m = /(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)/.exec(notice);
  const at = m ? new Date(m[1] as string) : null;
  if (!at || Number.isNaN(at.getTime())) return notice.charAt(0).toUpperCase() + notice.slice(1);
  const p = (n: number) => String(n).padStart(2, '0');
  const time = `${p(at.getHours())}:${p(at.getMinutes())}`;
  const sameDay = at.toDateString() === now.toDateString();
  const when = sameDay ? time : `${time} on ${at.toLocaleDateString(undefined, { day: 'numeric', month: 'short' })}`;
  const retry = /unless you retry/i.test(notice) ? ' unless you retry' : '';
  return `This machine shuts itself down at ${when}${retry}; it costs money until then.`;
}

/** The facts to list (label, value), those the machine reported. */
export function machineFacts(summary: SummaryLike | null | undefined, zone: string | null | undefined): { label: string; value: string }[] {
  const out: { label: string; value: string }[] = [];
  if (summary?.python) out.push({ label: 'Python', value: summary.python });
  const env = environmentText(summary?.environment);
  if (env) out.push({ label: 'Packages', value: env });
  if (summary?.installer) out.push({ label: 'Installed with', value: summary.installer });
  if (summary?.preinstalled) out.push({ label: 'Preinstalled', value: environmentText(summary.preinstalled) ?? '' });
  if (zone) out.push({ label: 'Zone', value: `${zone} (the data centre of the region the machine ran in)` });
  return out;
}
