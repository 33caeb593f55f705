// The run view's facts (RunView.svelte shows them): how the training went, what happened to its
// cloud resources, the status badge, which actions are offered, and the timeline's rows. Pure:
// from the history record, the session's progress events, what AWS says now, and what this view did.
import type { Cleanup, LiveStatus, Outcome } from './api';
import {
  cleanupFromRow,
  endedStep,
  FAILURE_ADVICE,
  mayCostMoney,
  overallState,
  STEP_LABELS,
  timelineFromRecord,
  type Overall,
  type RecordLike,
  type StepRow,
} from './progress';
import { cloudSummary, hasLeftovers, machineAlive, runStatus, type Tone } from './status';

export interface RunViewInput {
  /** The run as the history keeps it (null while it loads, or when it is not there). */
  record: (RecordLike & { cleanup: Cleanup }) | null;
  /** The run's timeline from this app session's progress events (started, retried, deleted or replayed here); null if none. */
  watched: StepRow[] | null;
  /** What AWS says now about the run's stack and machine (null until asked, or if it could not be asked). */
  live: LiveStatus | null;
  /** This view retried or deleted the run: its events are newer than the history record. */
  actedHere: boolean;
}

/** What the card of a run that failed, or that the user stopped, says and offers. */
export interface FailureFacts {
  /** The step that failed, or where the user stopped the run. */
  row: StepRow;
  title: string;
  /** The user stopped the run (Stop and delete): no advice and no retry. */
  stopped: boolean;
  /** What to do (null for a run the user stopped). */
  advice: string | null;
  canRetry: boolean;
  /** AWS took the (spot) machine back: the retry goes on on a new machine. */
  takenBack: boolean;
  /** The card offers Delete resources (a failed clean-up has its own box with that button). */
  canDelete: boolean;
}

/** What the success card says about the clean-up. */
export type SuccessCleanup = 'cleaned' | 'cleaning' | 'leftovers' | 'none';

export interface RunViewFacts {
  /** Every row known (history or events), the clean-up row included; null when there is nothing to show yet. */
  rows: StepRow[] | null;
  /** The rows the Timeline shows: the run's steps, then the clean-up row (or what will happen to the resources). */
  timeline: StepRow[];
  deleteRow: StepRow | null;
  overall: Overall | null;
  /** How the training went. */
  outcome: Outcome;
  /** What happened to the machine and the stack. */
  cleanup: Cleanup;
  status: { label: string; tone: Tone };
  /** Work is going on (training, or deleting): Retry and Delete wait. */
  active: boolean;
  /** The training is under way (not the clean-up): it can be stopped. */
  canStop: boolean;
  /** The machine may exist and cost money. */
  machineMayRun: boolean;
  /** "Still in your account", or null until AWS answered. */
  cloud: { text: string; warn: boolean } | null;
  /** AWS says the run's stack or machine still exists. */
  leftovers: boolean;
  /** Why the clean-up failed, when it did. */
  cleanupProblem: string | null;
  failure: FailureFacts | null;
  /** For a succeeded run (null otherwise). */
  success: SuccessCleanup | null;
  /** The "Still in your account" card offers Delete resources (nothing else on the page does). */
  offerDelete: boolean;
}

export const NOT_CLEANED_AFTER_FAILURE =
  'Not done: the machine and what the run created are kept so you can retry from the failed step. Delete them when you are done.';
export const CLEANUP_NEXT = 'Deleting the machine and what the run created comes next.';

export function runViewFacts({ record, watched, live, actedHere }: RunViewInput): RunViewFacts {
  const rows = watched ?? (record ? timelineFromRecord(record) : null);
  const mainRows = rows?.filter((r) => r.step !== 'delete') ?? [];
  const deleteRow = rows?.find((r) => r.step === 'delete') ?? null;
  const overall = mainRows.length > 0 ? overallState(mainRows) : null;
  const failedRow = rows ? endedStep(rows) : null;
  const stopped = failedRow?.state === 'stopped';

  let outcome: Outcome;
  if (!watched) outcome = record?.outcome ?? 'running';
  else if (overall === 'failed' || overall === 'stopped' || overall === 'succeeded') outcome = overall;
  // Events still arriving (a replay) must not show a finished run as running again, unless this view retried it.
  else if (!actedHere && record && record.outcome !== 'running') outcome = record.outcome;
  else outcome = 'running';

  const cleanup: Cleanup = cleanupFromRow(deleteRow) ?? (watched ? 'none' : (record?.cleanup ?? 'none'));
  const status = rows ? runStatus(outcome, cleanup, live) : { label: '…', tone: 'neutral' as const };
  const active = outcome === 'running' || cleanup === 'deleting' || (!watched && !!live?.active);
  const canStop = outcome === 'running' && cleanup === 'none' && (!!watched || !!live?.active);
  const machineMayRun = cleanup !== 'deleted' && (live ? machineAlive(live.instanceState) : !!failedRow && mayCostMoney(failedRow.step));
  const leftovers = !!live && hasLeftovers(live.stackStatus, live.instanceState);

  let cleanupRow = deleteRow;
  if (!cleanupRow) {
    let message = STEP_LABELS.delete?.help ?? '';
    if (outcome === 'failed') message = NOT_CLEANED_AFTER_FAILURE;
    else if (outcome === 'succeeded' || outcome === 'stopped') message = CLEANUP_NEXT;
    cleanupRow = { step: 'delete', state: 'pending', elapsedMs: null, message, detail: null, at: null };
  }

  let failure: FailureFacts | null = null;
  if (failedRow) {
    const label = STEP_LABELS[failedRow.step]?.title ?? failedRow.step;
    const takenBack = !stopped && /reclaimed the spot machine/.test(failedRow.message ?? '');
    failure = {
      row: failedRow,
      title: stopped
        ? `You stopped this run at “${label}”`
        : takenBack
          ? `AWS took the spot machine back during “${label}”`
          : `The run stopped at “${label}”`,
      takenBack,
      stopped,
      advice: stopped ? null : (FAILURE_ADVICE[failedRow.step] ?? 'Retry from this step, or delete the resources.'),
      canRetry: !stopped,
      canDelete: cleanup !== 'failed',
    };
  }

  let success: SuccessCleanup | null = null;
  if (!failedRow && outcome === 'succeeded') {
    if (cleanup === 'deleted') success = 'cleaned';
    else if (cleanup === 'deleting' || (cleanup === 'none' && watched)) success = 'cleaning';
    else if (cleanup === 'none' && leftovers) success = 'leftovers';
    else success = 'none';
  }

  return {
    rows,
    timeline: [...mainRows, cleanupRow],
    deleteRow,
    overall,
    outcome,
    cleanup,
    status,
    active,
    canStop,
    machineMayRun,
    cloud: cloudSummary(outcome, cleanup, live, !!record?.resources?.keptWarm),
    leftovers,
    cleanupProblem: cleanup === 'failed' ? ((deleteRow?.message || record?.cleanupMessage) ?? 'Deleting did not finish.') : null,
    failure,
    success,
    offerDelete: !active && !failedRow && outcome !== 'succeeded' && cleanup === 'none' && leftovers,
  };
}
