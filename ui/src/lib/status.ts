// Plain-language status of a run and of what it left in the cloud.

export type Tone = 'success' | 'danger' | 'warning' | 'info' | 'neutral';

export function outcomeLabel(outcome: string): { label: string; tone: Tone } {
  switch (outcome) {
    case 'running':
      return { label: 'Running', tone: 'info' };
    case 'succeeded':
      return { label: 'Finished', tone: 'success' };
    case 'failed':
      return { label: 'Failed', tone: 'danger' };
    case 'deleted':
      return { label: 'Deleted', tone: 'neutral' };
    case 'deleting':
      return { label: 'Deleting…', tone: 'warning' };
    case 'delete_failed':
      return { label: 'Delete failed', tone: 'danger' };
    default:
      return { label: outcome.charAt(0).toUpperCase() + outcome.slice(1).replace(/_/g, ' '), tone: 'neutral' };
  }
}

/** What is still in the cloud (and may cost money), from the stack status and the instance state. */
export function leftovers(stackStatus: string | null | undefined, instanceState: string | null | undefined): string {
  const parts: string[] = [];
  if (instanceState && !['terminated', 'shutting-down'].includes(instanceState)) parts.push(`machine (${instanceState})`);
  if (stackStatus && stackStatus !== 'DELETE_COMPLETE') {
    parts.push(stackStatus === 'DELETE_IN_PROGRESS' ? 'cloud resources (being deleted)' : 'cloud resources (stack)');
  }
  return parts.length ? parts.join(', ') : 'nothing';
}

export function hasLeftovers(stackStatus: string | null | undefined, instanceState: string | null | undefined): boolean {
  return leftovers(stackStatus, instanceState) !== 'nothing';
}

export interface DeleteReportLike {
  terminatedInstances: string[];
  deletedStack: string | null;
  deletedObjects: string[];
  keptOutputsPrefix: string | null;
}

/** One sentence per thing removed or kept by a delete. */
export function describeDelete(r: DeleteReportLike): { removed: string[]; kept: string | null } {
  const removed: string[] = [];
  for (const id of r.terminatedInstances) removed.push(`the machine ${id}`);
  if (r.deletedStack) removed.push(`the stack ${r.deletedStack} (roles, instance profile, launcher function, security group)`);
  if (r.deletedObjects.length > 0)
    removed.push(`${r.deletedObjects.length} uploaded file${r.deletedObjects.length === 1 ? '' : 's'}`);
  return { removed, kept: r.keptOutputsPrefix };
}
