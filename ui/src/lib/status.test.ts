import { describe, expect, it } from 'vitest';
import { hasLeftovers, leftovers, outcomeLabel } from './status';

describe('status', () => {
  it('labels outcomes', () => {
    expect(outcomeLabel('succeeded')).toEqual({ label: 'Finished', tone: 'success' });
    expect(outcomeLabel('failed').tone).toBe('danger');
    expect(outcomeLabel('some_new_state').label).toBe('Some new state');
  });
  it('says what is left in the cloud', () => {
    expect(leftovers('CREATE_COMPLETE', 'running')).toBe('machine (running), cloud resources (stack)');
    expect(leftovers('DELETE_IN_PROGRESS', 'shutting-down')).toBe('cloud resources (being deleted)');
    expect(leftovers('DELETE_COMPLETE', 'terminated')).toBe('nothing');
    expect(leftovers(null, null)).toBe('nothing');
    expect(hasLeftovers('CREATE_COMPLETE', null)).toBe(true);
  });
});
