// App-wide state: accounts, regions, and the live timelines of runs fed by Channels.
import { Channel } from '@tauri-apps/api/core';
import {
  commands,
  ok,
  type AccountView,
  type DeleteReport,
  type ProgressEvent,
  type RegionInfo,
  type RunEvent,
  type Step,
  type TrainRequest,
} from './api';
import { applyEvent, emptyTimeline, STOPPED_MESSAGE, type StepRow } from './progress';

/** The events of a run that are not step progress: its log and its metrics. */
export type RunOutputEvent = Exclude<RunEvent, { kind: 'step' }>;

class Session {
  accounts = $state<AccountView[] | null>(null);
  regions = $state<RegionInfo[]>([]);
  /** runId → timeline, for runs this window started, deletes or retries. */
  live = $state<Record<string, StepRow[]>>({});
  /** runId → what the last delete removed. */
  deleted = $state<Record<string, DeleteReport>>({});
  /** Something the user must know since this start (appInfo's notice), until they close it. */
  notice = $state<string | null>(null);

  async loadAccounts(): Promise<AccountView[]> {
    const list = await ok(commands.listAccounts());
    this.accounts = list;
    return list;
  }

  async loadRegions(): Promise<RegionInfo[]> {
    if (this.regions.length === 0) this.regions = await commands.listRegions();
    return this.regions;
  }

  accountName(id: string | null | undefined): string {
    if (!id) return '—';
    return this.accounts?.find((a) => a.id === id)?.name ?? 'Removed account';
  }

  /**
   * runId → the one channel whose events are folded. The backend sends a run's events to every
   * channel attached to it (start, retry, delete and watch all attach one), so the first channel
   * that reports for a run keeps it for the session and the others' copies are ignored.
   */
  private owner = new Map<string, symbol>();
  /** Runs this session asked the backend to watch (so it is asked once per run). */
  private watching = new Set<string>();

  private channel(onFirst?: (runId: string) => void): { channel: Channel<RunEvent>; token: symbol } {
    let first = true;
    const token = Symbol('channel');
    const channel = new Channel<RunEvent>((ev) => {
      this.receive(token, ev);
      if (first) {
        first = false;
        onFirst?.(ev.runId);
      }
    });
    return { channel, token };
  }

  private receive(token: symbol, ev: RunEvent): void {
    const owner = this.owner.get(ev.runId);
    if (owner && owner !== token) return;
    if (!owner) this.owner.set(ev.runId, token);
    if (ev.kind === 'step') this.fold(ev);
    else this.dispatch(ev);
  }

  /** runId → the views that show the run's log and metrics (the run view's log panel and charts). */
  private listeners = new Map<string, Set<(ev: RunOutputEvent) => void>>();

  /**
   * Log lines, a log starting again, and metric values of a run, as they arrive. Nothing is lost when
   * no view listens: a view that opens reads the log (readLog) and the metrics (runMetrics) so far.
   * Returns the function that stops listening.
   */
  listen(runId: string, fn: (ev: RunOutputEvent) => void): () => void {
    // eslint-disable-next-line svelte/prefer-svelte-reactivity -- who listens is not state the page shows
    const set = this.listeners.get(runId) ?? new Set();
    set.add(fn);
    this.listeners.set(runId, set);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.listeners.delete(runId);
    };
  }

  private dispatch(ev: RunOutputEvent): void {
    for (const fn of this.listeners.get(ev.runId) ?? []) fn(ev);
  }

  /** A channel that is known to carry this run's events (an answer arrived before its first event). */
  private claim(runId: string, token: symbol): void {
    if (!this.owner.has(runId)) this.owner.set(runId, token);
  }

  /** True when this session already receives the run's events. */
  isFollowing(runId: string): boolean {
    return this.owner.has(runId) || this.watching.has(runId);
  }

  /**
   * Asks the backend for the run's progress so far in this app session, then every new event
   * (a run view opened again, or from the history). Does nothing when a channel already gets them.
   * No event arrives for a run of an earlier app session: the view keeps its rebuilt timeline.
   */
  async watchRun(runId: string): Promise<void> {
    if (this.isFollowing(runId)) return;
    this.watching.add(runId);
    const { channel } = this.channel();
    try {
      await commands.watchRun(runId, channel);
    } catch {
      this.watching.delete(runId); // e.g. an older backend: the history timeline stays
    }
  }

  /** Runs stopped by "Stop and delete": late events of their steps are ignored (not the "stopped" one, nor the clean-up's). */
  private stopped = new Set<string>();

  fold(ev: ProgressEvent): void {
    if (this.stopped.has(ev.runId) && ev.step !== 'delete' && ev.state !== 'stopped') return;
    if (ev.state === 'stopped') this.stopped.add(ev.runId);
    const rows = this.live[ev.runId] ?? emptyTimeline();
    this.live[ev.runId] = applyEvent(rows, ev, Date.now());
  }

  /** `onStarted` is called with the run id as soon as it is known (first event or the answer). */
  async startRun(accountId: string, request: TrainRequest, onStarted?: (runId: string) => void): Promise<string> {
    const { channel, token } = this.channel(onStarted);
    const runId = await ok(commands.startRun(accountId, request, channel));
    this.claim(runId, token);
    if (!this.live[runId]) this.live[runId] = emptyTimeline();
    return runId;
  }

  /**
   * Deletes the run's resources. A run still in progress is stopped first: its running step is
   * shown as stopped at once, until the backend's "stopped" event says where it stopped.
   * `base`: the timeline to keep above the clean-up row when this window was not watching the run.
   */
  async deleteRun(runId: string, base: StepRow[] | null = null): Promise<DeleteReport> {
    const rows = (this.live[runId] ?? base ?? []).filter((r) => r.step !== 'delete');
    // In progress: nothing failed or stopped and not everything done. The step running (or the next one, between two steps) is where it stops.
    const inProgress =
      rows.length > 0 &&
      !rows.some((r) => r.state === 'failed' || r.state === 'stopped') &&
      !rows.every((r) => r.state === 'done' || r.state === 'skipped');
    const at = inProgress ? (rows.find((r) => r.state === 'running') ?? rows.find((r) => r.state === 'pending')) : undefined;
    if (at) this.stopped.add(runId);
    this.live[runId] = rows.map((r) => (r === at ? { ...r, state: 'stopped', message: STOPPED_MESSAGE, detail: null, at: null } : r));
    const { channel, token } = this.channel();
    const report = await ok(commands.deleteRun(runId, channel));
    this.claim(runId, token);
    this.deleted[runId] = report;
    return report;
  }

  /** Starts a failed run again from `fromStep`; the steps from there on go back to "waiting". */
  async retryRun(runId: string, fromStep: Step, base: StepRow[] | null = null): Promise<void> {
    this.stopped.delete(runId);
    const rows = this.live[runId] ?? base ?? emptyTimeline();
    const from = rows.findIndex((r) => r.step === fromStep);
    this.live[runId] = rows
      .filter((r) => r.step !== 'delete')
      .map((r, i) => (i >= from ? { ...r, state: 'pending', elapsedMs: null, message: '', detail: null, at: null } : r));
    const { channel, token } = this.channel();
    await ok(commands.retryRun(runId, fromStep, channel));
    this.claim(runId, token);
  }
}

export const session = new Session();
