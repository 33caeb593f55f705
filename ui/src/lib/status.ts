// Plain-language status of a run and of what it left in the cloud.

export type Tone = 'success' | 'danger' | 'warning' | 'info' | 'neutral';
export type OutcomeName = 'running' | 'succeeded' | 'failed' | 'stopped';
export type CleanupName = 'none' | 'deleting' | 'deleted' | 'failed';

export interface LiveLike {
  stackStatus: string | null;
  instanceState: string | null;
  active: boolean;
}

/** How the training itself went, alone (the Result column, the badge's first half). */
export function outcomeLabel(outcome: string): { label: string; tone: Tone } {
  switch (outcome) {
    case 'running':
      return { label: 'Running', tone: 'info' };
    case 'succeeded':
      return { label: 'Finished', tone: 'success' };
    case 'failed':
      return { label: 'Failed', tone: 'danger' };
    case 'stopped':
      return { label: 'Stopped', tone: 'neutral' };
    default:
      return { label: outcome.charAt(0).toUpperCase() + outcome.slice(1).replace(/_/g, ' '), tone: 'neutral' };
  }
}

/** True when the machine exists and is (or may soon be) billed. */
export function machineAlive(instanceState: string | null | undefined): boolean {
  return !!instanceState && !['terminated', 'shutting-down'].includes(instanceState);
}

/**
 * One label for a run: how the training went and what happened to its cloud resources,
 * e.g. "Finished · cleaned up", "Failed · machine still running", "Stopped · cleaned up". `live` (what AWS says now) refines
 * a run whose resources were not deleted.
 */
export function runStatus(outcome: string, cleanup: string, live: LiveLike | null = null): { label: string; tone: Tone } {
  const base = outcomeLabel(outcome);
  if (outcome === 'running') {
    if (cleanup === 'deleting') return { label: 'Stopping · deleting…', tone: 'warning' };
    return base;
  }
  const failed = outcome === 'failed';
  switch (cleanup) {
    case 'deleting':
      return { label: `${base.label} · cleaning up…`, tone: failed ? 'danger' : 'info' };
    case 'deleted':
      return { label: `${base.label} · cleaned up`, tone: base.tone };
    case 'failed':
      return { label: `${base.label} · clean-up failed`, tone: failed ? 'danger' : 'warning' };
  }
  // Not deleted (yet): what AWS says decides.
  if (live) {
    if (machineAlive(live.instanceState)) return { label: `${base.label} · machine still running`, tone: failed ? 'danger' : 'warning' };
    if (hasLeftovers(live.stackStatus, live.instanceState))
      return { label: `${base.label} · not cleaned up`, tone: failed ? 'danger' : 'warning' };
    return base;
  }
  if (failed) return { label: 'Failed · not cleaned up', tone: 'danger' };
  if (outcome === 'stopped') return { label: 'Stopped · not cleaned up', tone: 'warning' };
  return base;
}

/** What is still in the cloud (and may cost money), from the stack status and the instance state. */
export function leftovers(stackStatus: string | null | undefined, instanceState: string | null | undefined): string {
  const parts: string[] = [];
  if (machineAlive(instanceState)) parts.push(`the machine (${instanceState})`);
  if (stackStatus && stackStatus !== 'DELETE_COMPLETE') {
    parts.push(stackStatus === 'DELETE_IN_PROGRESS' ? "the run's cloud resources (being deleted)" : "the run's cloud resources (stack)");
  }
  return parts.length ? parts.join(' and ') : 'nothing';
}

export function hasLeftovers(stackStatus: string | null | undefined, instanceState: string | null | undefined): boolean {
  return leftovers(stackStatus, instanceState) !== 'nothing';
}

/**
 * "Still in your account", in one sentence, consistent with the outcome and the clean-up.
 * While a run is active it never says "nothing" (things are being created or deleted).
 */
export function cloudSummary(
  outcome: string,
  cleanup: string,
  live: LiveLike | null,
  keptWarm = false,
): { text: string; warn: boolean } | null {
  // The clean-up checked that everything is gone: an older status answer does not contradict it.
  if (cleanup === 'deleted' && keptWarm)
    return {
      text: 'Nothing of this run: what it created was deleted, and its machine was handed on to your next run (see Runs). Your outputs stay in your bucket.',
      warn: false,
    };
  if (cleanup === 'deleted')
    return { text: 'Nothing: the machine and what the run created were deleted. Your outputs stay in your bucket.', warn: false };
  if (!live) return null;
  const left = leftovers(live.stackStatus, live.instanceState);
  const cap = left.charAt(0).toUpperCase() + left.slice(1);
  if (cleanup === 'deleting') {
    return left === 'nothing'
      ? { text: 'Being deleted: checking that the machine and what the run created are gone…', warn: false }
      : { text: `Being deleted: ${left}.`, warn: false };
  }
  const active = live.active || outcome === 'running';
  if (left === 'nothing') {
    if (active) return { text: "Nothing yet: the run's resources are being created.", warn: false };
    return { text: 'Nothing: no machine and no stack of this run exist.', warn: false };
  }
  return { text: `${cap}.`, warn: !active };
}

/** The same, in a few words for the runs table. */
export function cloudShort(outcome: string, cleanup: string, live: LiveLike | null): { text: string; warn: boolean } | null {
  const full = cloudSummary(outcome, cleanup, live);
  if (!full || !live || cleanup === 'deleted')
    return full && { text: cleanup === 'deleted' ? 'nothing (cleaned up)' : full.text, warn: full.warn };
  const parts: string[] = [];
  if (machineAlive(live.instanceState)) parts.push(`machine (${live.instanceState})`);
  if (live.stackStatus && live.stackStatus !== 'DELETE_COMPLETE')
    parts.push(live.stackStatus === 'DELETE_IN_PROGRESS' ? 'cloud resources (being deleted)' : 'cloud resources');
  if (parts.length === 0)
    return {
      text: full.text.startsWith('Nothing yet') ? 'being created…' : cleanup === 'deleting' ? 'being deleted…' : 'nothing',
      warn: false,
    };
  const text = parts.join(' + ');
  return { text: cleanup === 'deleting' ? `being deleted: ${text}` : text, warn: full.warn };
}

export interface DeleteReportLike {
  /** A SageMaker run's training job that was still running. */
  stoppedTrainingJob?: string | null;
  terminatedInstances: string[];
  deletedStack: string | null;
  deletedObjects: string[];
  keptOutputsPrefix: string | null;
}

/** One sentence per thing removed or kept by a delete. */
export function describeDelete(r: DeleteReportLike): { removed: string[]; kept: string | null } {
  const removed: string[] = [];
  if (r.stoppedTrainingJob) removed.push(`Stopped the training job ${r.stoppedTrainingJob}`);
  for (const id of r.terminatedInstances) removed.push(`the machine ${id}`);
  if (r.deletedStack) removed.push(`the stack ${r.deletedStack} (the run's own role and resources)`);
  if (r.deletedObjects.length > 0) removed.push(`${r.deletedObjects.length} uploaded file${r.deletedObjects.length === 1 ? '' : 's'}`);
  return { removed, kept: r.keptOutputsPrefix };
}
