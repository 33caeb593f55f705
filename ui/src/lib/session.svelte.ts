// App-wide state: accounts, regions, and the live timelines of runs fed by Channels.
import { Channel } from '@tauri-apps/api/core';
import {
  commands,
  ok,
  type AccountView,
  type DeleteReport,
  type ProgressEvent,
  type RegionInfo,
  type Step,
  type TrainRequest,
} from './api';
import { applyEvent, emptyTimeline, STOPPED_MESSAGE, type StepRow } from './progress';

class Session {
  accounts = $state<AccountView[] | null>(null);
  regions = $state<RegionInfo[]>([]);
  /** runId → timeline, for runs this window started, deletes or retries. */
  live = $state<Record<string, StepRow[]>>({});
  /** runId → what the last delete removed. */
  deleted = $state<Record<string, DeleteReport>>({});

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

  private channel(onFirst?: (runId: string) => void): Channel<ProgressEvent> {
    let first = true;
    return new Channel<ProgressEvent>((ev) => {
      this.fold(ev);
      if (first) {
        first = false;
        onFirst?.(ev.runId);
      }
    });
  }

  /** Runs stopped by "Stop and delete": late events of their steps are ignored. */
  private stopped = new Set<string>();

  fold(ev: ProgressEvent): void {
    if (this.stopped.has(ev.runId) && ev.step !== 'delete') return;
    const rows = this.live[ev.runId] ?? emptyTimeline();
    this.live[ev.runId] = applyEvent(rows, ev, Date.now());
  }

  /** `onStarted` is called with the run id as soon as it is known (first event or the answer). */
  async startRun(accountId: string, request: TrainRequest, onStarted?: (runId: string) => void): Promise<string> {
    const runId = await ok(commands.startRun(accountId, request, this.channel(onStarted)));
    if (!this.live[runId]) this.live[runId] = emptyTimeline();
    return runId;
  }

  /**
   * Deletes the run's resources. A run still in progress is stopped first: its running step is
   * shown as stopped at once (the backend ends that run's events without a last one).
   * `base`: the timeline to keep above the clean-up row when this window was not watching the run.
   */
  async deleteRun(runId: string, base: StepRow[] | null = null): Promise<DeleteReport> {
    const rows = (this.live[runId] ?? base ?? []).filter((r) => r.step !== 'delete');
    // In progress: nothing failed and not everything done. The step running (or the next one, between two steps) is where it stops.
    const inProgress = rows.length > 0 && !rows.some((r) => r.state === 'failed') && !rows.every((r) => r.state === 'done' || r.state === 'skipped');
    const at = inProgress ? (rows.find((r) => r.state === 'running') ?? rows.find((r) => r.state === 'pending')) : undefined;
    if (at) this.stopped.add(runId);
    this.live[runId] = rows.map((r) => (r === at ? { ...r, state: 'failed', message: STOPPED_MESSAGE, detail: null, at: null } : r));
    const report = await ok(commands.deleteRun(runId, this.channel()));
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
    await ok(commands.retryRun(runId, fromStep, this.channel()));
  }
}

export const session = new Session();
