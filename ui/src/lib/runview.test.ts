import { describe, expect, it } from 'vitest';
import type { LiveStatus } from './api';
import {
  applyEvent,
  emptyTimeline,
  FAILURE_ADVICE,
  RUN_STEPS,
  STEP_LABELS,
  STOPPED_MESSAGE,
  type EventLike,
  type StepRow,
} from './progress';
import { CLEANUP_NEXT, NOT_CLEANED_AFTER_FAILURE, runViewFacts, type RunViewInput } from './runview';

// What AWS says (run_live_status).
const LIVE_ACTIVE: LiveStatus = { stackStatus: 'CREATE_COMPLETE', instanceState: 'running', active: true };
const LIVE_LEFT: LiveStatus = { stackStatus: 'CREATE_COMPLETE', instanceState: 'running', active: false };
const LIVE_GONE: LiveStatus = { stackStatus: null, instanceState: 'terminated', active: false };

type State = EventLike['state'];
const ev = (step: string, state: State, message = `${step} ${state}`, detail: string | null = null): EventLike => ({
  step,
  state,
  elapsedMs: 1000,
  message,
  detail,
});
const fold = (events: EventLike[]): StepRow[] => events.reduce((rows, e) => applyEvent(rows, e), emptyTimeline());
/** Events of a run up to `step` (done before it; `state` for it). */
const upTo = (step: string, state: State, message?: string, detail: string | null = null): EventLike[] => {
  const at = RUN_STEPS.indexOf(step as (typeof RUN_STEPS)[number]);
  return [
    ...RUN_STEPS.slice(0, at).flatMap((s) => [ev(s, 'running'), ev(s, 'done')]),
    ev(step, 'running'),
    ...(state === 'running' ? [] : [ev(step, state, message, detail)]),
  ];
};
const succeeded = (): EventLike[] => RUN_STEPS.flatMap((s) => [ev(s, 'running'), ev(s, 'done')]);
const cleanedUp = (): EventLike[] => [ev('delete', 'running', 'Deleting'), ev('delete', 'done', 'Deleted')];

type Rec = NonNullable<RunViewInput['record']>;
const record = (outcome: Rec['outcome'], extra: Partial<Rec> = {}): Rec => ({
  outcome,
  lastStep: outcome === 'succeeded' ? 'outputs' : 'prepare',
  message: null,
  detail: null,
  cleanup: outcome === 'succeeded' ? 'deleted' : 'none',
  cleanupMessage: null,
  ...extra,
});
const facts = (input: Partial<RunViewInput>) => runViewFacts({ record: null, watched: null, live: null, actedHere: false, ...input });
const states = (rows: StepRow[]) => rows.map((r) => `${r.step}:${r.state}`);

describe('runViewFacts: a run that is going on', () => {
  it('shows nothing but "…" until the record or an event arrives', () => {
    const f = facts({});
    expect(f).toMatchObject({ rows: null, status: { label: '…', tone: 'neutral' }, outcome: 'running', canStop: false, failure: null });
  });

  it('running, watched here: Running, can be stopped, the clean-up row says what happens after', () => {
    const f = facts({ watched: fold(upTo('instance', 'running')), record: record('running'), live: LIVE_ACTIVE });
    expect(f).toMatchObject({
      outcome: 'running',
      cleanup: 'none',
      status: { label: 'Running', tone: 'info' },
      active: true,
      canStop: true,
      failure: null,
      success: null,
      offerDelete: false,
      cleanupProblem: null,
    });
    expect(f.timeline.at(-1)).toMatchObject({ step: 'delete', state: 'pending', message: STEP_LABELS.delete?.help });
    expect(f.cloud?.warn).toBe(false);
  });

  it('running, seen from the history only: it can be stopped while AWS says it is active', () => {
    expect(facts({ record: record('running', { lastStep: 'stack' }), live: LIVE_ACTIVE }).canStop).toBe(true);
    expect(facts({ record: record('running', { lastStep: 'stack' }) }).canStop).toBe(false);
    expect(facts({ record: record('running', { lastStep: 'stack' }) }).status.label).toBe('Running');
  });

  it('stop asked (the clean-up runs while the outcome is not written yet): Stopping, no second stop', () => {
    const f = facts({ record: record('running', { cleanup: 'deleting' }) });
    expect(f).toMatchObject({ status: { label: 'Stopping · deleting…' }, canStop: false, active: true });
  });
});

describe('runViewFacts: a failed run', () => {
  for (const step of RUN_STEPS) {
    it(`failed at "${step}" (watched): the reason, advice, Retry and Delete, the machine may cost money`, () => {
      const f = facts({
        watched: fold(upTo(step, 'failed', 'It broke', 'Traceback')),
        record: record('running'),
        live: LIVE_LEFT,
      });
      const label = STEP_LABELS[step]?.title;
      expect(f).toMatchObject({
        outcome: 'failed',
        status: { label: 'Failed · machine still running', tone: 'danger' },
        active: false,
        canStop: false,
        machineMayRun: true,
        success: null,
        offerDelete: false,
        failure: {
          title: `The run stopped at “${label}”`,
          stopped: false,
          advice: FAILURE_ADVICE[step],
          canRetry: true,
          canDelete: true,
          row: { step, message: 'It broke', detail: 'Traceback' },
        },
      });
      expect(f.timeline.at(-1)).toMatchObject({ step: 'delete', state: 'pending', message: NOT_CLEANED_AFTER_FAILURE });
    });

    it(`failed at "${step}" (history, AWS not asked yet): the machine may cost money from "instance" on`, () => {
      const f = facts({ record: record('failed', { lastStep: step, message: 'It broke' }) });
      expect(f.machineMayRun).toBe(['instance', 'requirements', 'training', 'outputs'].includes(step));
      expect(f.status.label).toBe('Failed · not cleaned up');
      expect(f.failure?.row.step).toBe(step);
    });
  }

  it('a spot machine AWS took back: said so, and the retry goes on on a new machine', () => {
    const message = 'AWS ended the machine i-1 (terminated): AWS reclaimed the spot machine (Server.SpotInstanceTermination: …)';
    const f = facts({ record: record('failed', { lastStep: 'training', message }) });
    expect(f.failure).toMatchObject({
      title: 'AWS took the spot machine back during “Run your training script”',
      takenBack: true,
      canRetry: true,
    });
    const other = facts({ record: record('failed', { lastStep: 'training', message: 'training failed' }) });
    expect(other.failure?.takenBack).toBe(false);
  });

  it('failed, then cleaned up: the failure stays, nothing costs money, no Retry offered by the card', () => {
    const f = facts({ record: record('failed', { lastStep: 'training', message: 'Traceback', cleanup: 'deleted' }), live: LIVE_LEFT });
    expect(f).toMatchObject({
      cleanup: 'deleted',
      status: { label: 'Failed · cleaned up', tone: 'danger' },
      machineMayRun: false,
      failure: { title: 'The run stopped at “Run your training script”' },
    });
    expect(f.cloud?.text).toMatch(/^Nothing: the machine and what the run created were deleted/);
  });

  it('failed, and the clean-up failed: its message, and the failure card leaves Delete to the clean-up box', () => {
    const f = facts({
      record: record('failed', { lastStep: 'training', cleanup: 'failed', cleanupMessage: 'The stack could not be deleted.' }),
      live: LIVE_LEFT,
    });
    expect(f).toMatchObject({
      cleanup: 'failed',
      cleanupProblem: 'The stack could not be deleted.',
      status: { label: 'Failed · clean-up failed', tone: 'danger' },
      failure: { canDelete: false, canRetry: true },
      machineMayRun: true,
    });
  });

  it('a clean-up that fails while watched: the event’s message wins over the record’s', () => {
    const watched = fold([...upTo('training', 'failed'), ev('delete', 'running'), ev('delete', 'failed', 'Access denied on the stack')]);
    const f = facts({ watched, record: record('failed', { cleanup: 'failed', cleanupMessage: 'older' }), actedHere: true });
    expect(f.cleanupProblem).toBe('Access denied on the stack');
    expect(f.timeline.at(-1)).toMatchObject({ step: 'delete', state: 'failed' });
  });
});

describe('runViewFacts: a run the user stopped', () => {
  const stoppedAt = (step: string) => [...upTo(step, 'running'), ev(step, 'stopped', STOPPED_MESSAGE)];

  it('Stop and delete, watched: the step under way is stopped, the clean-up follows, no Retry', () => {
    const watched = fold([...stoppedAt('requirements'), ...cleanedUp()]);
    const f = facts({ watched, record: record('running'), live: LIVE_GONE, actedHere: true });
    expect(states(f.timeline)).toEqual([
      'prepare:done',
      'stack:done',
      'instance:done',
      'requirements:stopped',
      'training:pending',
      'outputs:pending',
      'delete:done',
    ]);
    expect(f).toMatchObject({
      outcome: 'stopped',
      cleanup: 'deleted',
      status: { label: 'Stopped · cleaned up', tone: 'neutral' },
      canStop: false,
      active: false,
      machineMayRun: false,
      success: null,
      offerDelete: false,
      failure: {
        title: 'You stopped this run at “Install your packages”',
        stopped: true,
        advice: null,
        canRetry: false,
        canDelete: true,
        row: { step: 'requirements', message: STOPPED_MESSAGE },
      },
    });
  });

  it('stopped, the clean-up under way: Stopped · cleaning up…, nothing can be started', () => {
    const f = facts({ watched: fold([...stoppedAt('training'), ev('delete', 'running')]), record: record('running'), actedHere: true });
    expect(f).toMatchObject({ outcome: 'stopped', cleanup: 'deleting', status: { label: 'Stopped · cleaning up…' }, active: true });
  });

  it('stopped, before the first clean-up event: the clean-up row says it comes next', () => {
    const f = facts({ watched: fold(stoppedAt('stack')), record: record('running'), actedHere: true });
    expect(f.timeline.at(-1)).toMatchObject({ step: 'delete', state: 'pending', message: CLEANUP_NEXT });
    expect(f.canStop).toBe(false);
  });

  it('from the history, cleaned up', () => {
    const f = facts({ record: record('stopped', { lastStep: 'instance', message: STOPPED_MESSAGE, cleanup: 'deleted' }) });
    expect(f).toMatchObject({
      outcome: 'stopped',
      status: { label: 'Stopped · cleaned up' },
      failure: { stopped: true, canRetry: false, title: 'You stopped this run at “Start the machine”' },
    });
    expect(states(f.timeline)).toContain('instance:stopped');
  });

  it('from the history, the clean-up failed: its message, Delete again, the machine may still cost money', () => {
    const f = facts({
      record: record('stopped', { lastStep: 'training', cleanup: 'failed', cleanupMessage: 'The machine did not terminate.' }),
      live: LIVE_LEFT,
    });
    expect(f).toMatchObject({
      status: { label: 'Stopped · clean-up failed', tone: 'warning' },
      cleanupProblem: 'The machine did not terminate.',
      machineMayRun: true,
      failure: { stopped: true, canRetry: false, canDelete: false },
    });
  });

  it('from the history, never cleaned up (the app closed in between): Delete is offered', () => {
    const f = facts({ record: record('stopped', { lastStep: 'training' }), live: LIVE_LEFT });
    expect(f).toMatchObject({ status: { label: 'Stopped · machine still running' }, failure: { canDelete: true, canRetry: false } });
    expect(facts({ record: record('stopped', { lastStep: 'training' }) }).status.label).toBe('Stopped · not cleaned up');
  });

  it('a replay of a stopped run (a view opened again) is stopped, not running', () => {
    const f = facts({ watched: fold([...stoppedAt('requirements'), ...cleanedUp()]), record: record('stopped', { cleanup: 'deleted' }) });
    expect(f).toMatchObject({ outcome: 'stopped', canStop: false, status: { label: 'Stopped · cleaned up' } });
  });
});

describe('runViewFacts: a run that succeeded', () => {
  it('succeeded and cleaned up (watched): Finished · cleaned up, nothing left', () => {
    const f = facts({ watched: fold([...succeeded(), ...cleanedUp()]), record: record('succeeded'), live: LIVE_GONE });
    expect(f).toMatchObject({
      outcome: 'succeeded',
      cleanup: 'deleted',
      status: { label: 'Finished · cleaned up', tone: 'success' },
      success: 'cleaned',
      failure: null,
      canStop: false,
      active: false,
      machineMayRun: false,
    });
    expect(f.cloud?.text).toMatch(/^Nothing: the machine and what the run created were deleted/);
  });

  it('succeeded, the automatic clean-up not begun yet (watched): cleaning up, the clean-up row says it comes next', () => {
    const f = facts({ watched: fold(succeeded()), record: record('running'), live: LIVE_LEFT });
    expect(f).toMatchObject({ outcome: 'succeeded', cleanup: 'none', success: 'cleaning', canStop: false });
    expect(f.timeline.at(-1)).toMatchObject({ step: 'delete', state: 'pending', message: CLEANUP_NEXT });
  });

  it('succeeded, clean-up under way: Finished · cleaning up…', () => {
    const f = facts({ watched: fold([...succeeded(), ev('delete', 'running')]), record: record('succeeded', { cleanup: 'deleting' }) });
    expect(f).toMatchObject({ cleanup: 'deleting', success: 'cleaning', status: { label: 'Finished · cleaning up…' }, active: true });
  });

  it('succeeded but not cleaned up (history) while AWS still has the machine: a Delete on the success card', () => {
    const f = facts({ record: record('succeeded', { cleanup: 'none' }), live: LIVE_LEFT });
    expect(f).toMatchObject({
      success: 'leftovers',
      machineMayRun: true,
      status: { label: 'Finished · machine still running', tone: 'warning' },
      offerDelete: false,
    });
    expect(facts({ record: record('succeeded', { cleanup: 'none' }), live: LIVE_GONE }).success).toBe('none');
  });

  it('succeeded, clean-up failed: Finished · clean-up failed, with its message', () => {
    const f = facts({ record: record('succeeded', { cleanup: 'failed', cleanupMessage: 'Timed out' }), live: LIVE_LEFT });
    expect(f).toMatchObject({ cleanupProblem: 'Timed out', status: { label: 'Finished · clean-up failed', tone: 'warning' } });
    expect(facts({ record: record('succeeded', { cleanup: 'failed' }) }).cleanupProblem).toBe('The clean-up did not finish.');
  });
});

describe('runViewFacts: a replay (a view opened again while events come in)', () => {
  it('a finished run is not shown as running again while its events are replayed', () => {
    const f = facts({ watched: fold(upTo('training', 'running')), record: record('succeeded') });
    expect(f.outcome).toBe('succeeded');
    expect(f.canStop).toBe(false);
  });

  it('unless this view retried it: then the new events are the truth', () => {
    const f = facts({ watched: fold(upTo('training', 'running')), record: record('failed', { lastStep: 'training' }), actedHere: true });
    expect(f).toMatchObject({ outcome: 'running', canStop: true, status: { label: 'Running' } });
  });

  it('a run still going on is running', () => {
    expect(facts({ watched: fold(upTo('stack', 'running')), record: record('running') }).outcome).toBe('running');
  });
});
