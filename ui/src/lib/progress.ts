// Run timeline: folds the progress events of a run into one row per step.
import type { Outcome, ProgressEvent } from './api';

export const RUN_STEPS = ['prepare', 'stack', 'instance', 'requirements', 'training', 'outputs'] as const;
export type StepName = (typeof RUN_STEPS)[number] | 'delete';
/** A step's state as the backend reports it (the generated bindings' StepState). */
export type EventState = ProgressEvent['state'];
/** A row's state: the backend's, or "pending" for a step not started. */
export type StepState = 'pending' | EventState;

export const STEP_LABELS: Record<string, { title: string; help: string }> = {
  prepare: { title: 'Upload your files', help: 'Your script and requirements go to your S3 bucket.' },
  stack: {
    title: 'Create the cloud resources',
    help: 'On your first run in a region, easyTDV creates its shared resources (a role for the machines, a firewall, a small launcher); later runs reuse them.',
  },
  instance: { title: 'Start the machine', help: 'The EC2 machine boots and connects back (usually 1–3 minutes).' },
  requirements: { title: 'Install your packages', help: 'pip installs what requirements.txt lists.' },
  training: { title: 'Run your training script', help: 'train.py runs on the machine.' },
  outputs: { title: 'Save the outputs', help: 'Files written to OUTPUT_DIR are copied to your bucket.' },
  delete: {
    title: 'Clean up',
    help: 'After a successful run the machine and your uploaded inputs are deleted. Your outputs stay.',
  },
};

export interface EventLike {
  step: string;
  state: EventState;
  elapsedMs: number;
  message: string;
  detail?: string | null;
}

export interface StepRow {
  step: string;
  state: StepState;
  elapsedMs: number | null;
  message: string;
  detail: string | null;
  /** Local clock (ms) when the last event for this step arrived: lets a running step's time tick between events. */
  at: number | null;
}

export function emptyTimeline(steps: readonly string[] = RUN_STEPS): StepRow[] {
  return steps.map((step) => ({ step, state: 'pending', elapsedMs: null, message: '', detail: null, at: null }));
}

/**
 * Apply one event. Unknown steps (e.g. "delete") are appended in arrival order. The last event of
 * a step wins. Two cases matter when a run's whole history is replayed (a view opened again):
 * - a step starting again while a later one already reported is a retry: the later steps (and a
 *   clean-up row) go back to "waiting", as they did when the retry was asked for;
 * - a step reported "stopped" is where the user stopped the run: a row shown as stopped before the
 *   backend said where (when Stop was pressed) goes back to what it was, "waiting".
 */
export function applyEvent(rows: readonly StepRow[], ev: EventLike, now: number | null = null): StepRow[] {
  let out = rows.map((r) => ({ ...r }));
  const mainIndex = RUN_STEPS.indexOf(ev.step as (typeof RUN_STEPS)[number]);
  if (mainIndex >= 0 && ev.state === 'running') {
    const later = out.filter((r) => RUN_STEPS.indexOf(r.step as (typeof RUN_STEPS)[number]) > mainIndex);
    if (later.some((r) => r.state !== 'pending')) {
      out = out
        .filter((r) => r.step !== 'delete')
        .map((r) =>
          later.some((l) => l.step === r.step) ? { ...r, state: 'pending', elapsedMs: null, message: '', detail: null, at: null } : r,
        );
    }
  }
  if (ev.state === 'stopped') {
    out = out.map((r) =>
      r.state === 'stopped' && r.step !== ev.step ? { ...r, state: 'pending', elapsedMs: null, message: '', detail: null, at: null } : r,
    );
  }
  let row = out.find((r) => r.step === ev.step);
  if (!row) {
    row = { step: ev.step, state: 'pending', elapsedMs: null, message: '', detail: null, at: null };
    out.push(row);
  }
  row.state = ev.state;
  row.elapsedMs = ev.elapsedMs;
  row.at = now;
  if (ev.message) row.message = ev.message;
  if (ev.detail) row.detail = ev.detail;
  return out;
}

export type Overall = 'idle' | 'running' | 'failed' | 'stopped' | 'succeeded';

export function overallState(rows: readonly StepRow[]): Overall {
  const main = rows.filter((r) => r.step !== 'delete');
  if (main.some((r) => r.state === 'failed')) return 'failed';
  if (main.some((r) => r.state === 'stopped')) return 'stopped';
  if (main.length > 0 && main.every((r) => r.state === 'done' || r.state === 'skipped')) return 'succeeded';
  if (rows.some((r) => r.state !== 'pending')) return 'running';
  return 'idle';
}

export function failedStep(rows: readonly StepRow[]): StepRow | null {
  return rows.find((r) => r.state === 'failed' && r.step !== 'delete') ?? null;
}

/** The step where the run ended before finishing: the one that failed, or where the user stopped it. */
export function endedStep(rows: readonly StepRow[]): StepRow | null {
  return failedStep(rows) ?? rows.find((r) => r.state === 'stopped' && r.step !== 'delete') ?? null;
}

/** What to do when a step fails, in plain words. */
export const FAILURE_ADVICE: Record<string, string> = {
  prepare: 'Check the bucket on the Storage step (name, region, access), then retry from this step.',
  stack: 'This is usually a permission your AWS keys lack (see the message above and the Accounts page). Once fixed, retry from this step.',
  instance:
    'AWS may be short of this machine type right now. Retry in a few minutes, or delete the resources and start a new run with another machine type or region.',
  requirements:
    'Fix requirements.txt on your computer (a misspelt package, or a version that does not exist for this Python), then retry from this step.',
  training: 'Fix train.py on your computer, then retry from this step: packages are already installed.',
  outputs: 'Retry from this step: only the copy of the outputs is done again.',
};

/** Steps after which the machine may exist and cost money until deleted. */
export function mayCostMoney(step: string): boolean {
  return ['instance', 'requirements', 'training', 'outputs'].includes(step);
}

/** Elapsed time to show: a running step keeps counting from its last event. */
export function liveElapsed(row: StepRow, now: number): number | null {
  if (row.elapsedMs === null) return null;
  if (row.state !== 'running' || row.at === null) return row.elapsedMs;
  return row.elapsedMs + Math.max(0, now - row.at);
}

export interface RecordLike {
  outcome: Outcome;
  lastStep: string | null;
  message: string | null;
  detail?: string | null;
  cleanup: string;
  cleanupMessage?: string | null;
  /** What was asked for: a SageMaker run has no machine or install step of its own. */
  request?: { engine?: { kind: string } } | null;
  /** A machine kept warm after the run is not deleted with it. */
  resources?: { keptWarm?: unknown } | null;
}

/** A SageMaker run's steps that SageMaker does itself (the backend reports them skipped). */
const SAGEMAKER_OWN: Record<string, string> = {
  instance: 'SageMaker starts the machines itself.',
  requirements: 'SageMaker installs your packages when the training starts.',
};

/** The run's clean-up, from the timeline's "delete" row (null: no clean-up event yet). */
export function cleanupFromRow(row: StepRow | null | undefined): 'deleting' | 'deleted' | 'failed' | null {
  if (!row) return null;
  if (row.state === 'running') return 'deleting';
  if (row.state === 'done' || row.state === 'skipped') return 'deleted';
  if (row.state === 'failed') return 'failed';
  return null;
}

/** What the backend says of the step under way when the user stops a run. */
export const STOPPED_MESSAGE = 'Stopped by you before it finished.';

/**
 * A timeline rebuilt from the history (a run not watched by this window): the outcome, the last
 * step that reported, its message and output tail, then the clean-up row.
 */
export function timelineFromRecord(rec: RecordLike): StepRow[] {
  const row = (step: string, state: StepState, msg = '', detail: string | null = null): StepRow => ({
    step,
    state,
    elapsedMs: null,
    message: msg,
    detail,
    at: null,
  });
  let main: StepRow[];
  if (rec.outcome === 'succeeded') {
    main = RUN_STEPS.map((s) => row(s, 'done', s === 'outputs' && rec.message ? rec.message : ''));
  } else {
    const at = Math.max(0, RUN_STEPS.indexOf((rec.lastStep ?? 'prepare') as (typeof RUN_STEPS)[number]));
    main = RUN_STEPS.map((s, i) => {
      if (i < at) return row(s, 'done');
      if (i > at) return row(s, 'pending');
      if (rec.outcome === 'failed') return row(s, 'failed', rec.message ?? 'This step failed.', rec.detail ?? null);
      if (rec.outcome === 'stopped') return row(s, 'stopped', rec.message ?? STOPPED_MESSAGE);
      return row(s, 'running', rec.message ?? '');
    });
  }
  const cleanup: Record<string, StepRow> = {
    deleting: row('delete', 'running', 'Deleting the machine and what the run created…'),
    deleted: row(
      'delete',
      'done',
      rec.resources?.keptWarm
        ? 'What the run created and the uploaded inputs were deleted; its machine was kept on for your next run. Your outputs stay.'
        : 'The machine, what the run created and the uploaded inputs were deleted. Your outputs stay.',
    ),
    failed: row('delete', 'failed', rec.cleanupMessage ?? 'The clean-up did not finish.'),
  };
  if (rec.request?.engine?.kind === 'sageMaker') {
    main = main.map((r) => {
      const own = SAGEMAKER_OWN[r.step];
      return own && (r.state === 'done' || r.state === 'pending') ? { ...r, state: 'skipped' as const, message: own } : r;
    });
    cleanup.deleted = row('delete', 'done', 'The stack and the uploaded inputs were deleted. Your outputs stay.');
  }
  const last = cleanup[rec.cleanup];
  return last ? [...main, last] : main;
}
