import { describe, expect, it } from 'vitest';
import { describeDelete, hasLeftovers, leftovers, outcomeLabel } from './status';

describe('status', () => {
  it('labels outcomes', () => {
    expect(outcomeLabel('succeeded')).toEqual({ label: 'Finished', tone: 'success' });
    expect(outcomeLabel('failed').tone).toBe('danger');
    expect(outcomeLabel('delete_failed')).toEqual({ label: 'Delete failed', tone: 'danger' });
    expect(outcomeLabel('some_new_state').label).toBe('Some new state');
  });
  it('says what is left in the cloud', () => {
    expect(leftovers('CREATE_COMPLETE', 'running')).toBe('machine (running), cloud resources (stack)');
    expect(leftovers('DELETE_IN_PROGRESS', 'shutting-down')).toBe('cloud resources (being deleted)');
    expect(leftovers('DELETE_COMPLETE', 'terminated')).toBe('nothing');
    expect(leftovers(null, null)).toBe('nothing');
    expect(hasLeftovers('CREATE_COMPLETE', null)).toBe(true);
  });
  it('describes a delete report', () => {
    expect(
      describeDelete({
        terminatedInstances: ['i-1'],
        deletedStack: 'easytdv-r1',
        deletedObjects: ['a', 'b'],
        keptOutputsPrefix: 'easytdv/runs/r1/outputs/',
      }),
    ).toEqual({
      removed: ['the machine i-1', 'the stack easytdv-r1 (roles, instance profile, launcher function, security group)', '2 uploaded files'],
      kept: 'easytdv/runs/r1/outputs/',
    });
    expect(describeDelete({ terminatedInstances: [], deletedStack: null, deletedObjects: [], keptOutputsPrefix: null }).removed).toEqual([]);
  });
});
