import { describe, expect, it } from 'vitest';
import { cloudShort, cloudSummary, describeDelete, hasLeftovers, leftovers, outcomeLabel, runStatus } from './status';

const live = (stackStatus: string | null, instanceState: string | null, active = false) => ({ stackStatus, instanceState, active });

describe('status', () => {
  it('labels outcomes', () => {
    expect(outcomeLabel('succeeded')).toEqual({ label: 'Finished', tone: 'success' });
    expect(outcomeLabel('failed').tone).toBe('danger');
    expect(outcomeLabel('stopped')).toEqual({ label: 'Stopped', tone: 'neutral' });
    expect(outcomeLabel('some_new_state').label).toBe('Some new state');
  });
  it('labels a run by its outcome and its clean-up', () => {
    expect(runStatus('succeeded', 'deleted')).toEqual({ label: 'Finished · cleaned up', tone: 'success' });
    expect(runStatus('failed', 'deleted')).toEqual({ label: 'Failed · cleaned up', tone: 'danger' });
    expect(runStatus('succeeded', 'deleting').label).toBe('Finished · cleaning up…');
    expect(runStatus('succeeded', 'failed')).toEqual({ label: 'Finished · clean-up failed', tone: 'warning' });
    expect(runStatus('failed', 'none', live('CREATE_COMPLETE', 'running')).label).toBe('Failed · machine still running');
    expect(runStatus('failed', 'none', live('CREATE_COMPLETE', 'terminated')).label).toBe('Failed · not cleaned up');
    expect(runStatus('failed', 'none', live(null, 'terminated')).label).toBe('Failed');
    expect(runStatus('running', 'none', live('CREATE_COMPLETE', 'running')).label).toBe('Running');
    expect(runStatus('running', 'deleting').label).toBe('Stopping · deleting…');
    expect(runStatus('stopped', 'deleted')).toEqual({ label: 'Stopped · cleaned up', tone: 'neutral' });
    expect(runStatus('stopped', 'deleting')).toEqual({ label: 'Stopped · cleaning up…', tone: 'info' });
    expect(runStatus('stopped', 'failed')).toEqual({ label: 'Stopped · clean-up failed', tone: 'warning' });
    expect(runStatus('stopped', 'none', live('CREATE_COMPLETE', 'running')).label).toBe('Stopped · machine still running');
    expect(runStatus('stopped', 'none')).toEqual({ label: 'Stopped · not cleaned up', tone: 'warning' });
  });
  it('says what is left in the cloud', () => {
    expect(leftovers('CREATE_COMPLETE', 'running')).toBe("the machine (running) and the run's cloud resources (stack)");
    expect(leftovers('DELETE_IN_PROGRESS', 'shutting-down')).toBe("the run's cloud resources (being deleted)");
    expect(leftovers('DELETE_COMPLETE', 'terminated')).toBe('nothing');
    expect(leftovers(null, null)).toBe('nothing');
    expect(hasLeftovers('CREATE_COMPLETE', null)).toBe(true);
  });
  it('never says "nothing" while a run is active, and agrees with the clean-up', () => {
    expect(cloudSummary('running', 'none', live(null, null, true))?.text).toMatch(/^Nothing yet/);
    expect(cloudSummary('running', 'none', live('CREATE_IN_PROGRESS', null, true))).toEqual({
      text: "The run's cloud resources (stack).",
      warn: false,
    });
    expect(cloudSummary('failed', 'none', live('CREATE_COMPLETE', 'running'))?.warn).toBe(true);
    expect(cloudSummary('succeeded', 'deleted', null)?.text).toMatch(/^Nothing: the machine and what the run created were deleted/);
    expect(cloudSummary('succeeded', 'deleted', null, true)?.text).toMatch(/its machine was handed on to your next run/);
    expect(cloudSummary('succeeded', 'deleting', live('DELETE_IN_PROGRESS', 'shutting-down'))?.text).toMatch(/^Being deleted/);
    expect(cloudSummary('failed', 'none', live(null, null))?.text).toBe('Nothing: no machine and no stack of this run exist.');
    expect(cloudSummary('failed', 'none', null)).toBeNull();
    // A status answer older than the verified clean-up does not contradict it.
    expect(cloudSummary('failed', 'deleted', live('CREATE_COMPLETE', 'running'))?.text).toMatch(/^Nothing/);
    expect(cloudSummary('running', 'none', live('CREATE_COMPLETE', 'running', true))?.warn).toBe(false);
  });
  it('says it in a few words for the runs table', () => {
    expect(cloudShort('failed', 'none', live('CREATE_COMPLETE', 'running'))).toEqual({
      text: 'machine (running) + cloud resources',
      warn: true,
    });
    expect(cloudShort('succeeded', 'deleted', null)).toEqual({ text: 'nothing (cleaned up)', warn: false });
    expect(cloudShort('running', 'none', live(null, null, true))?.text).toBe('being created…');
    expect(cloudShort('failed', 'none', live(null, 'terminated'))?.text).toBe('nothing');
    expect(cloudShort('failed', 'none', null)).toBeNull();
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
      removed: ['the machine i-1', "the stack easytdv-r1 (the run's own role and resources)", '2 uploaded files'],
      kept: 'easytdv/runs/r1/outputs/',
    });
    expect(describeDelete({ terminatedInstances: [], deletedStack: null, deletedObjects: [], keptOutputsPrefix: null }).removed).toEqual(
      [],
    );
    // A SageMaker run: its training job was stopped first.
    expect(
      describeDelete({
        stoppedTrainingJob: 'easytdv-r1',
        terminatedInstances: [],
        deletedStack: null,
        deletedObjects: [],
        keptOutputsPrefix: null,
      }).removed,
    ).toEqual(['Stopped the training job easytdv-r1']);
  });
});
