import { describe, expect, it } from 'vitest';
import {
  FAILURE_ADVICE,
  RUN_STEPS,
  STEP_LABELS,
  applyEvent,
  cleanupFromRow,
  STOPPED_MESSAGE,
  emptyTimeline,
  endedStep,
  failedStep,
  type EventState,
  liveElapsed,
  mayCostMoney,
  overallState,
  timelineFromRecord,
} from './progress';
import type { Outcome } from './api';

const ev = (step: string, state: EventState, elapsedMs = 0, detail: string | null = null) => ({
  step,
  state,
  elapsedMs,
  message: `${step} ${state}`,
  detail,
});

describe('progress timeline', () => {
  it('folds events into rows', () => {
    let rows = emptyTimeline();
    expect(overallState(rows)).toBe('idle');
    rows = applyEvent(rows, ev('prepare', 'running'));
    expect(overallState(rows)).toBe('running');
    rows = applyEvent(rows, ev('prepare', 'done', 1200));
    expect(rows[0]).toMatchObject({ state: 'done', elapsedMs: 1200, message: 'prepare done' });
    rows = applyEvent(rows, ev('stack', 'failed', 5000, 'ROLLBACK'));
    expect(overallState(rows)).toBe('failed');
    expect(failedStep(rows)).toMatchObject({ step: 'stack', detail: 'ROLLBACK' });
  });
  it('keeps the last detail and appends unknown steps', () => {
    let rows = applyEvent(emptyTimeline(), ev('training', 'running', 0, 'epoch 1'));
    rows = applyEvent(rows, ev('training', 'running', 10));
    expect(rows.find((r) => r.step === 'training')?.detail).toBe('epoch 1');
    rows = applyEvent(rows, ev('delete', 'running'));
    expect(rows[rows.length - 1]?.step).toBe('delete');
  });
  it('succeeds when every step is done or skipped', () => {
    let rows = emptyTimeline();
    for (const r of rows) rows = applyEvent(rows, ev(r.step, r.step === 'outputs' ? 'skipped' : 'done'));
    expect(overallState(rows)).toBe('succeeded');
  });
});

describe('plain-language texts', () => {
  it('has a title and failure advice for every step', () => {
    for (const s of RUN_STEPS) {
      expect(STEP_LABELS[s]?.title).toBeTruthy();
      expect(FAILURE_ADVICE[s]).toBeTruthy();
    }
    expect(mayCostMoney('stack')).toBe(false);
    expect(mayCostMoney('training')).toBe(true);
  });
});

describe('liveElapsed', () => {
  it('keeps a running step counting between events, and freezes finished ones', () => {
    let rows = applyEvent(emptyTimeline(), ev('prepare', 'running', 2000), 10_000);
    expect(liveElapsed(rows[0]!, 13_500)).toBe(5500);
    rows = applyEvent(rows, ev('prepare', 'done', 4000), 12_000);
    expect(liveElapsed(rows[0]!, 99_000)).toBe(4000);
    expect(liveElapsed(rows[1]!, 99_000)).toBeNull();
  });
});

describe('timelineFromRecord', () => {
  const rec = (outcome: Outcome, lastStep: string | null, message: string | null, extra: Record<string, unknown> = {}) => ({
    outcome,
    lastStep,
    message,
    detail: null,
    cleanup: 'none',
    cleanupMessage: null,
    ...extra,
  });
  it('rebuilds a failed run up to its last step, with its output tail', () => {
    const rows = timelineFromRecord(rec('failed', 'requirements', 'pip failed', { detail: 'ERROR: No matching distribution' }));
    expect(rows.map((r) => r.state)).toEqual(['done', 'done', 'done', 'failed', 'pending', 'pending']);
    expect(failedStep(rows)).toMatchObject({ step: 'requirements', message: 'pip failed', detail: 'ERROR: No matching distribution' });
  });
  it('shows the steps SageMaker does itself as skipped', () => {
    const sm = { request: { engine: { kind: 'sageMaker' } }, cleanup: 'deleted' };
    const ok = timelineFromRecord(rec('succeeded', 'outputs', null, sm));
    expect(ok.map((r) => r.state)).toEqual(['done', 'done', 'skipped', 'skipped', 'done', 'done', 'done']);
    expect(ok[2]?.message).toMatch(/SageMaker starts the machines/);
    expect(overallState(ok)).toBe('succeeded');
    const failed = timelineFromRecord(rec('failed', 'training', 'Traceback', sm));
    expect(failed.map((r) => r.state)).toEqual(['done', 'done', 'skipped', 'skipped', 'failed', 'pending', 'done']);
    // Not yet there: skipped all the same (SageMaker never runs them).
    expect(timelineFromRecord(rec('running', 'stack', null, sm)).map((r) => r.state)).toEqual([
      'done',
      'running',
      'skipped',
      'skipped',
      'pending',
      'pending',
      'done',
    ]);
  });
  it('keeps the failure visible after the clean-up', () => {
    const rows = timelineFromRecord(rec('failed', 'training', 'Traceback', { detail: 'ValueError', cleanup: 'deleted' }));
    expect(failedStep(rows)).toMatchObject({ step: 'training', detail: 'ValueError' });
    expect(rows[rows.length - 1]).toMatchObject({ step: 'delete', state: 'done' });
    expect(overallState(rows)).toBe('failed');
  });
  it('handles running, succeeded and the clean-up states', () => {
    expect(overallState(timelineFromRecord(rec('running', 'stack', null)))).toBe('running');
    const ok = timelineFromRecord(rec('succeeded', 'outputs', null, { cleanup: 'deleted' }));
    expect(overallState(ok)).toBe('succeeded');
    expect(ok[ok.length - 1]).toMatchObject({ step: 'delete', state: 'done' });
    expect(cleanupFromRow(ok[ok.length - 1])).toBe('deleted');
    const failedCleanup = timelineFromRecord(rec('succeeded', 'outputs', null, { cleanup: 'failed', cleanupMessage: 'x' }));
    expect(failedCleanup[failedCleanup.length - 1]).toMatchObject({ step: 'delete', state: 'failed', message: 'x' });
    expect(timelineFromRecord(rec('succeeded', 'outputs', null)).some((r) => r.step === 'delete')).toBe(false);
    expect(timelineFromRecord(rec('failed', null, 'no bucket'))[0]).toMatchObject({ step: 'prepare', state: 'failed' });
  });
  it('rebuilds a run the user stopped: the step under way is stopped, not failed', () => {
    const rows = timelineFromRecord(rec('stopped', 'instance', STOPPED_MESSAGE, { cleanup: 'deleted' }));
    expect(rows.map((r) => r.state)).toEqual(['done', 'done', 'stopped', 'pending', 'pending', 'pending', 'done']);
    expect(overallState(rows)).toBe('stopped');
    expect(failedStep(rows)).toBeNull();
    expect(endedStep(rows)).toMatchObject({ step: 'instance', state: 'stopped', message: STOPPED_MESSAGE });
    expect(timelineFromRecord(rec('stopped', 'stack', null))[1]).toMatchObject({ state: 'stopped', message: STOPPED_MESSAGE });
    expect(cleanupFromRow(null)).toBeNull();
  });
});

describe('replaying a run history (watchRun)', () => {
  const fold = (events: ReturnType<typeof ev>[]) => events.reduce((rows, e) => applyEvent(rows, e), emptyTimeline());

  it('a step starting again after a later one reported is a retry: later steps wait again', () => {
    const rows = fold([
      ev('prepare', 'done'),
      ev('stack', 'done'),
      ev('instance', 'done'),
      ev('requirements', 'done'),
      ev('training', 'failed', 9000, 'Traceback'),
      ev('requirements', 'running'),
    ]);
    expect(rows.find((r) => r.step === 'requirements')?.state).toBe('running');
    expect(rows.find((r) => r.step === 'training')?.state).toBe('pending');
    expect(overallState(rows)).toBe('running');
  });

  it('the step the backend reports stopped is where the run stopped; the clean-up follows', () => {
    const rows = fold([
      ev('prepare', 'done'),
      ev('stack', 'running'),
      ev('stack', 'stopped'),
      ev('delete', 'running'),
      ev('delete', 'done'),
    ]);
    expect(rows.find((r) => r.step === 'stack')).toMatchObject({ state: 'stopped' });
    expect(overallState(rows)).toBe('stopped');
    expect(cleanupFromRow(rows.find((r) => r.step === 'delete'))).toBe('deleted');
  });

  it('a clean-up starting alone marks nothing stopped (only the backend says where a run stopped)', () => {
    const rows = fold([ev('prepare', 'done'), ev('stack', 'running'), ev('delete', 'running')]);
    expect(rows.find((r) => r.step === 'stack')?.state).toBe('running');
    expect(rows.some((r) => r.state === 'stopped' || r.state === 'failed')).toBe(false);
  });

  it('a row shown as stopped before the backend said where goes back to waiting when it does', () => {
    let rows = fold([ev('prepare', 'done'), ev('stack', 'done')]);
    rows = rows.map((r) => (r.step === 'instance' ? { ...r, state: 'stopped' as const, message: STOPPED_MESSAGE } : r)); // Stop pressed between steps
    rows = applyEvent(rows, ev('stack', 'stopped'));
    expect(rows.map((r) => r.state)).toEqual(['done', 'stopped', 'pending', 'pending', 'pending', 'pending']);
  });

  it('the automatic clean-up after a success changes nothing above it', () => {
    const rows = fold([...RUN_STEPS.map((s) => ev(s, 'done')), ev('delete', 'running'), ev('delete', 'done')]);
    expect(overallState(rows)).toBe('succeeded');
    expect(rows.filter((r) => r.state === 'failed')).toEqual([]);
  });
});
