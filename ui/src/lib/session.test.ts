import { describe, expect, it } from 'vitest';
import type { ProgressEvent } from './api';
import { STOPPED_MESSAGE } from './progress';
import { session } from './session.svelte';

const ev = (runId: string, step: ProgressEvent['step'], state: ProgressEvent['state'], message = `${step} ${state}`): ProgressEvent => ({
  runId,
  step,
  state,
  elapsedMs: 100,
  message,
  detail: null,
});
const states = (runId: string) => (session.live[runId] ?? []).map((r) => `${r.step}:${r.state}`);

describe('session.fold: a run stopped by the user', () => {
  it('keeps the step the backend reports stopped, ignores that run’s late step events, shows its clean-up', () => {
    for (const e of [ev('r1', 'prepare', 'done'), ev('r1', 'stack', 'running'), ev('r1', 'stack', 'stopped', STOPPED_MESSAGE)])
      session.fold(e);
    session.fold(ev('r1', 'stack', 'done')); // sent before the stop took effect: too late
    session.fold(ev('r1', 'instance', 'running'));
    session.fold(ev('r1', 'delete', 'running'));
    session.fold(ev('r1', 'delete', 'done'));
    expect(states('r1')).toEqual([
      'prepare:done',
      'stack:stopped',
      'instance:pending',
      'requirements:pending',
      'training:pending',
      'outputs:pending',
      'delete:done',
    ]);
    expect(session.live.r1?.find((r) => r.step === 'stack')?.message).toBe(STOPPED_MESSAGE);
  });

  it('a run that was not stopped takes every event', () => {
    for (const e of [ev('r2', 'prepare', 'done'), ev('r2', 'stack', 'running'), ev('r2', 'stack', 'done')]) session.fold(e);
    expect(states('r2').slice(0, 2)).toEqual(['prepare:done', 'stack:done']);
  });
});
