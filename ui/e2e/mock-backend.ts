// A fake easyTDV backend that runs inside the page, in place of Tauri's IPC.
// It mirrors @tauri-apps/api/mocks `mockIPC`: it defines window.__TAURI_INTERNALS__
// (invoke, transformCallback, runCallback, ...) before the app's scripts run.
// Everything a test varies is plain data in `Scenario` (it crosses into the page as JSON).

import type { CommandName, DownloadProgress, LogLine, LogName, MockError, MockEvent, MockResults } from './wire';

export type { MockError, MockEvent, MockResults } from './wire';

type PerCommand<T> = { [K in CommandName]?: T };

/**
 * A run's log as the backend keeps it: `generated` lines made on demand (line i says
 * "step i+1 loss=…", every `errEvery`-th on stderr), then explicit `lines`. Live logLines events
 * append to it (the mock sets their `total`), logReset empties it; read_log and search_log read it.
 */
export interface MockLog {
  generated?: number;
  errEvery?: number;
  /** atMs of generated line 0; each next line 250 ms later. */
  startMs?: number;
  lines?: LogLine[];
}

/** The backend's log growing while a run view watches: `batch` generated lines every `everyMs`, `ticks` times. */
export interface MockLogGrowth {
  runId: string;
  log: LogName;
  everyMs: number;
  batch: number;
  ticks: number;
  /** Wait before the first batch (after the first watch_run). */
  afterMs?: number;
}

export interface Scenario {
  /** Command name (snake_case, as Rust names it) → result data, of the type the bindings give it. */
  results: Partial<MockResults>;
  /** Command name → error it rejects with (an ErrorReport). */
  errors: PerCommand<MockError>;
  /** Command name → errors it rejects with when called with these arguments (e.g. one typed value refused, others accepted). */
  errorsWhen?: PerCommand<{ args: Record<string, unknown>; error: MockError }[]>;
  /** Command name → delay in ms before answering (to see "verifying…" states). */
  delays: PerCommand<number>;
  /**
   * Events sent on the Channel argument of start_run / delete_run / retry_run, in order. delete_run
   * on a run in progress first stops it, as the backend does: a "stopped" event for the step under
   * way, and outcome "stopped" in list_runs.
   */
  streams: PerCommand<MockEvent[]>;
  /** Delay between two streamed events. */
  streamDelayMs: number;
  /** Command name → after how many of its streamed events the stream pauses, and for how long (a run held in a step). */
  streamHolds: PerCommand<{ after: number; ms: number }>;
  /** Command name → results returned one per call, in order; the last one then stays (e.g. run_live_status over time). */
  sequences: { [K in CommandName]?: MockResults[K][] };
  /**
   * Progress the backend already kept for a run this app session (run id → events), e.g. from
   * before the page was opened. watch_run replays it, then sends every new event of the run.
   */
  feeds: Record<string, MockEvent[]>;
  /** Pause before streams.watch_run begins (the replayed past shows on its own first). */
  watchGoesOnAfterMs?: number;
  /** After the event stream of command X has ended, replace results (and drop their sequences). */
  thenStreamed: PerCommand<Partial<MockResults>>;
  /** After command X succeeds, replace the results of other commands (e.g. list_accounts after add_keys_account). */
  then: PerCommand<Partial<MockResults>>;
  /** Logs by `<runId>/<log>` (read_log, search_log); a log not listed is empty. */
  logs: Record<string, MockLog>;
  /** Logs that grow once a run view watches the run (a big log streaming live). */
  logGrowth: MockLogGrowth[];
  /** Progress sent on download_outputs' channel before it answers (streamDelayMs apart). */
  downloadProgress: DownloadProgress[];
}

export function installMockBackend(scenario: Scenario): void {
  type Cb = (data: unknown) => void;
  type ByName<T> = Record<string, T | undefined>;
  const w = window as unknown as Record<string, unknown>;
  // The scenario's tables, looked up by the name invoke() is given.
  const results = scenario.results as ByName<unknown>;
  const errors = scenario.errors as ByName<MockError>;
  const delays = scenario.delays as ByName<number>;
  const streams = scenario.streams as ByName<MockEvent[]>;
  const holds = scenario.streamHolds as ByName<{ after: number; ms: number }>;
  const sequences = scenario.sequences as ByName<unknown[]>;
  const thenAfter = scenario.then as ByName<Record<string, unknown>>;
  const thenStreamed = scenario.thenStreamed as ByName<Record<string, unknown>>;
  const callbacks = new Map<number, Cb>();
  const calls: { cmd: string; args: Record<string, unknown> }[] = [];
  let nextId = 1;

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  function plain(args: Record<string, unknown> | undefined): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(args ?? {})) {
      if (v && typeof v === 'object' && 'id' in v && typeof (v as { id: unknown }).id === 'number' && 'onmessage' in v)
        out[k] = `channel:${(v as { id: number }).id}`;
      else out[k] = v;
    }
    return out;
  }

  function channelOf(args: Record<string, unknown> | undefined): number | null {
    for (const v of Object.values(args ?? {})) {
      if (v && typeof v === 'object' && 'id' in v && 'onmessage' in v) return (v as { id: number }).id;
    }
    return null;
  }

  // Run feeds, as the backend keeps them: every event of a run is stored for the session and sent
  // to every channel attached to the run (the one of the command that started the work joins on its
  // first event; watch_run replays the past, then joins).
  const watchers = new Map<string, number[]>();
  const nextIndex = new Map<number, number>();
  function send(channelId: number, runId: string, ev: MockEvent) {
    const index = nextIndex.get(channelId) ?? 0;
    nextIndex.set(channelId, index + 1);
    callbacks.get(channelId)?.({ index, message: runId ? { runId, ...ev } : ev });
  }
  function publish(runId: string, ev: MockEvent, first: number | null) {
    const list = watchers.get(runId) ?? [];
    if (first !== null && !list.includes(first)) list.push(first);
    watchers.set(runId, list);
    if (ev.kind === 'step') {
      (scenario.feeds[runId] ??= []).push(ev);
      const at = sentAt.get(runId) ?? new Map<string, number>();
      sentAt.set(runId, at);
      if (ev.state === 'running' && !at.has(ev.step)) at.set(ev.step, Date.now());
    } else if (ev.kind === 'logReset') {
      scenario.logs[`${runId}/${ev.log}`] = { lines: [] };
    } else if (ev.kind === 'logLines') {
      // The backend's log grows by these lines; the event says how many there are in all.
      const log = (scenario.logs[`${runId}/${ev.log}`] ??= { lines: [] });
      (log.lines ??= []).push(...ev.lines);
      ev = { ...ev, total: logTotal(log) };
    }
    for (const id of list) send(id, runId, ev);
  }

  // Logs. (Everything lives inside this function: addInitScript sends its source alone into the page.)
  /** The text of generated line `i`: "step 500001 loss=0.0199 lr=0.001". */
  const generatedText = (i: number) => `step ${i + 1} loss=${(2 / (1 + i / 5000)).toFixed(4)} lr=0.001`;
  const logTotal = (l: MockLog | undefined) => (l?.generated ?? 0) + (l?.lines?.length ?? 0);
  function logLine(l: MockLog, i: number): LogLine | undefined {
    const n = l.generated ?? 0;
    if (i < n) {
      const err = !!l.errEvery && (i + 1) % l.errEvery === 0;
      return {
        atMs: (l.startMs ?? Date.UTC(2026, 10, 26, 14, 31, 0)) + i * 250,
        stream: err ? 'err' : 'out',
        text: err ? `warning: step ${i + 1} is slow` : generatedText(i),
      };
    }
    return l.lines?.[i - n];
  }
  function readLog(key: string, from: number, count: number) {
    const l = scenario.logs[key] ?? {};
    const total = logTotal(l);
    const lines: LogLine[] = [];
    for (let i = from; i < Math.min(total, from + Math.min(count, 5000)); i++) {
      const line = logLine(l, i);
      if (line) lines.push(line);
    }
    return { total, from, lines };
  }
  function searchLog(key: string, query: string, from: number, forward: boolean): number | null {
    const l = scenario.logs[key] ?? {};
    const total = logTotal(l);
    const q = query.toLowerCase();
    if (!q) return null;
    if (forward) {
      for (let i = Math.max(0, from); i < total; i++) if (logLine(l, i)?.text.toLowerCase().includes(q)) return i;
    } else {
      for (let i = Math.min(from, total - 1); i >= 0; i--) if (logLine(l, i)?.text.toLowerCase().includes(q)) return i;
    }
    return null;
  }
  let growing = false;
  async function grow() {
    if (growing) return;
    growing = true;
    for (const g of scenario.logGrowth) {
      void (async () => {
        await sleep(g.afterMs ?? 0);
        const key = `${g.runId}/${g.log}`;
        for (let t = 0; t < g.ticks; t++) {
          await sleep(g.everyMs);
          const l = (scenario.logs[key] ??= {});
          const start = l.generated ?? 0;
          l.generated = start + g.batch;
          // At most 500 newest lines per event, as the backend sends them.
          const first = Math.max(start, start + g.batch - 500);
          const lines: LogLine[] = [];
          for (let i = first; i < start + g.batch; i++) {
            const line = logLine(l, i);
            if (line) lines.push(line);
          }
          const ev: MockEvent = { kind: 'logLines', log: g.log, total: logTotal(l), lines };
          for (const id of watchers.get(g.runId) ?? []) send(id, g.runId, ev);
        }
      })();
    }
  }

  /** Streams in progress: stream id → run id. delete_run stops a run's other streams, as the backend does. */
  const streaming = new Map<number, string>();
  const stoppedStreams = new Set<number>();
  let nextStream = 1;

  async function stream(channelId: number | null, cmd: string, runId: string) {
    const events = streams[cmd] ?? [];
    const streamId = nextStream++;
    streaming.set(streamId, runId);
    const hold = holds[cmd];
    for (const [i, ev] of events.entries()) {
      await sleep(scenario.streamDelayMs + (hold && i === hold.after ? hold.ms : 0));
      if (stoppedStreams.has(streamId)) break;
      publish(runId, ev, channelId);
    }
    streaming.delete(streamId);
    if (stoppedStreams.has(streamId)) return;
    // The history records how the clean-up ended.
    const last = events.filter((e) => e.kind === 'step').pop();
    const rec = findRecord(runId);
    if (cmd === 'delete_run' && rec && last) rec.cleanup = last.state === 'done' ? 'deleted' : 'failed';
    const after = thenStreamed[cmd] ?? {};
    for (const k of Object.keys(after)) delete sequences[k];
    Object.assign(results, after);
  }

  type RecordLike = { runId: string; outcome: string; cleanup: string; lastStep: string | null; message: string | null };
  const findRecord = (runId: string) => ((results.list_runs ?? []) as RecordLike[]).find((r) => r.runId === runId);
  const STEPS: string[] = ['prepare', 'stack', 'instance', 'requirements', 'training', 'outputs'];
  /** When each run's last event was sent (run id → step → ms), for the elapsed time of a stopped step. */
  const sentAt = new Map<string, Map<string, number>>();

  /**
   * "Stop and delete" on a run in progress, as the backend does it: its own events end, the step
   * under way gets a "stopped" event (on every channel of the run), and the history says "stopped".
   */
  function stop(runId: string, channelId: number | null) {
    let streamed = false;
    for (const [id, run] of streaming)
      if (run === runId) {
        stoppedStreams.add(id);
        streamed = true;
      }
    const rec = findRecord(runId);
    const inHistory = !!rec && rec.outcome === 'running' && rec.cleanup === 'none';
    if (!streamed && !inHistory) return;
    // The step under way: the last one that reported, or the next one when it had just finished.
    const past = (scenario.feeds[runId] ?? []).flatMap((e) => (e.kind === 'step' && e.step !== 'delete' ? [e] : []));
    const last = past[past.length - 1];
    let step: string = last?.step ?? rec?.lastStep ?? 'prepare';
    if (last && last.state !== 'running') step = STEPS[STEPS.indexOf(last.step) + 1] ?? last.step;
    const since = sentAt.get(runId)?.get(step);
    const elapsed = (last?.step === step ? last.elapsedMs : 0) + (since === undefined ? 0 : Date.now() - since);
    publish(
      runId,
      {
        kind: 'step',
        step: step as NonNullable<typeof last>['step'],
        state: 'stopped',
        elapsedMs: elapsed,
        message: STOPPED,
        detail: null,
      },
      channelId,
    );
    if (rec) Object.assign(rec, { outcome: 'stopped', lastStep: step, message: STOPPED, cleanup: 'deleting' });
  }
  const STOPPED = 'Stopped by you before it finished.';

  const listeners: { event: string; handler: number }[] = [];

  /**
   * refresh_runs when a scenario gives none: every run of list_runs with what run_live_status says
   * (its sequence's next answer), in one call, as the backend's one refresh per account and region.
   */
  function refreshFromLive() {
    const seq = sequences.run_live_status;
    const live = (seq && seq.length > 0 ? (seq.length > 1 ? seq.shift() : seq[0]) : results.run_live_status) as
      { stackStatus: string | null; instanceState: string | null } | undefined;
    const runs = (results.list_runs ?? []) as RecordLike[];
    return {
      statuses: runs.map((r) => ({ runId: r.runId, stackStatus: live?.stackStatus ?? null, instanceState: live?.instanceState ?? null })),
      calls: 2,
      failures: [],
    };
  }

  /** get_run when a scenario gives none: the run of the history list_runs holds now (the history is one). */
  function getRun(runId: string) {
    if (errors.list_runs) throw errors.list_runs;
    const seq = sequences.list_runs;
    const list = ((seq && seq.length > 0 ? seq[0] : results.list_runs) ?? []) as RecordLike[];
    const found = list.find((r) => r.runId === runId);
    if (!found) throw { code: 'run_not_found', message: `There is no run ${runId} in the history.`, hint: 'Refresh the runs list.' };
    return JSON.parse(JSON.stringify(found));
  }

  /** delete_leftover (region, id): the leftover is gone from the next find_leftovers (with the rest of its run: machine, stack and files go together). */
  function forgetLeftover(region: unknown, id: unknown) {
    const scan = results.find_leftovers as { leftovers: { id: string; region: string; runId: string | null }[] } | undefined;
    if (!scan || errors.delete_leftover) return;
    const gone = scan.leftovers.find((x) => x.id === id && x.region === region);
    if (!gone) return;
    results.find_leftovers = {
      ...scan,
      leftovers: scan.leftovers.filter((x) => x !== gone && !(gone.runId && x.runId === gone.runId)),
    };
  }

  /** delete_environment: the environment is gone from the next list_environments. */
  function forgetEnvironment(environment: unknown) {
    const e = environment as { key?: string } | undefined;
    const list = results.list_environments as { key: string }[] | undefined;
    if (!e || !list || errors.delete_environment) return;
    results.list_environments = list.filter((x) => x.key !== e.key);
  }

  /** stop_warm_machine: the machine leaves the next warm_machines (refused, as the backend does, when it is not listed). */
  function stopWarm(instanceId: unknown) {
    const list = (results.warm_machines ?? []) as { instanceId: string }[];
    const found = list.find((m) => m.instanceId === instanceId);
    if (!found || errors.stop_warm_machine) {
      throw (
        errors.stop_warm_machine ?? {
          code: 'not_warm',
          message: `${String(instanceId)} is not a machine kept warm for the next run`,
          hint: null,
          detail: null,
        }
      );
    }
    results.warm_machines = list.filter((m) => m !== found);
    return JSON.parse(JSON.stringify(found));
  }

  /**
   * training_quote when a scenario gives none: the training type's price (list_training_types) × the machines, until the
   * safety stop (earlier when a budget cap asks for it), as the backend works it out.
   */
  function trainingQuote(args: Record<string, unknown> | undefined) {
    const types = (results.list_training_types ?? []) as { name: string; usdPerHour: number | null }[];
    const price = types.find((t) => t.name === args?.trainingType)?.usdPerHour ?? null;
    const rate = price === null ? null : price * Number(args?.machines ?? 1);
    const cap = typeof args?.budgetUsd === 'number' ? args.budgetUsd : null;
    let hours = Number(args?.maxRuntimeHours ?? 24);
    if (rate !== null && cap !== null) hours = Math.min(hours, cap / rate);
    return {
      usdPerHour: rate,
      safetyStopHours: hours,
      atMostUsd: rate === null ? null : rate * hours,
      budgetIgnored: cap !== null && rate === null,
    };
  }

  async function invoke(cmd: string, args?: Record<string, unknown>): Promise<unknown> {
    if (cmd === 'plugin:event|listen') {
      listeners.push({ event: String(args?.event), handler: Number(args?.handler) });
      return Number(args?.handler);
    }
    if (cmd.startsWith('plugin:event|')) return null;
    calls.push({ cmd, args: plain(args) });
    const delay = delays[cmd];
    if (delay) await sleep(delay);
    const err = errors[cmd];
    if (err) throw err;
    const when = (scenario.errorsWhen as ByName<{ args: Record<string, unknown>; error: MockError }[]> | undefined)?.[cmd];
    const matched = when?.find((w) => Object.entries(w.args).every(([k, v]) => JSON.stringify(plain(args)[k]) === JSON.stringify(v)));
    if (matched) throw matched.error;
    const channelId = channelOf(args);
    if (cmd === 'delete_run') stop(String(args?.runId), channelId);
    if (cmd === 'read_log') return readLog(`${String(args?.runId)}/${String(args?.log)}`, Number(args?.from), Number(args?.count));
    if (cmd === 'search_log')
      return searchLog(`${String(args?.runId)}/${String(args?.log)}`, String(args?.query), Number(args?.from), !!args?.forward);
    if (cmd === 'download_outputs' && channelId !== null && results.download_outputs) {
      for (const p of scenario.downloadProgress) {
        await sleep(scenario.streamDelayMs);
        send(channelId, '', p as unknown as MockEvent);
      }
      await sleep(scenario.streamDelayMs);
    }
    if (cmd === 'watch_run' && channelId !== null) {
      const runId = String(args?.runId);
      // Only the past step events are replayed: log lines and metrics are live-only (read_log and run_metrics read the past).
      for (const ev of scenario.feeds[runId] ?? []) if (ev.kind === 'step') send(channelId, runId, ev);
      void grow();
      watchers.set(runId, [...(watchers.get(runId) ?? []), channelId]);
      // The run goes on: streams.watch_run are its next events, sent to every watcher.
      void sleep(scenario.watchGoesOnAfterMs ?? 0).then(() => stream(null, cmd, runId));
      return null;
    }
    if (cmd === 'training_quote' && results.training_quote === undefined && !sequences.training_quote) return trainingQuote(args);
    if (cmd === 'refresh_runs' && results.refresh_runs === undefined && !sequences.refresh_runs) return refreshFromLive();
    if (cmd === 'get_run' && results.get_run === undefined && !sequences.get_run) return getRun(String(args?.runId));
    if (cmd === 'delete_leftover') forgetLeftover(args?.region, args?.id);
    if (cmd === 'delete_environment') forgetEnvironment(args?.environment);
    if (cmd === 'stop_warm_machine') return stopWarm(args?.instanceId);
    const seq = sequences[cmd];
    const result = seq && seq.length > 0 ? (seq.length > 1 ? seq.shift() : seq[0]) : results[cmd];
    Object.assign(results, thenAfter[cmd] ?? {});
    if (channelId !== null) {
      const runId = typeof result === 'string' ? result : typeof args?.runId === 'string' ? (args.runId as string) : 'run-1';
      // delete_run answers once its clean-up has finished, as the backend does.
      if (cmd === 'delete_run') await stream(channelId, cmd, runId);
      else void stream(channelId, cmd, runId);
    }
    if (result === undefined) {
      if (cmd.startsWith('plugin:')) return null;
      // Unknown commands answer null so a missing scenario entry shows up as a visible gap, not a hang.
      console.warn(`[mock] no result for ${cmd}`);
      return null;
    }
    return JSON.parse(JSON.stringify(result));
  }

  w.__TAURI_INTERNALS__ = {
    invoke,
    transformCallback(cb: Cb, once = false) {
      const id = nextId++;
      callbacks.set(id, (data) => {
        if (once) callbacks.delete(id);
        cb(data);
      });
      return id;
    },
    unregisterCallback(id: number) {
      callbacks.delete(id);
    },
    runCallback(id: number, data: unknown) {
      callbacks.get(id)?.(data);
    },
    callbacks,
    convertFileSrc: (p: string) => p,
    metadata: { currentWindow: { label: 'main' }, currentWebview: { windowLabel: 'main', label: 'main' } },
  };
  w.__TAURI_EVENT_PLUGIN_INTERNALS__ = { unregisterListener() {} };
  w.__IPC_CALLS__ = calls;
  w.__MOCK_SCENARIO__ = scenario;
  /** Emit a Tauri event (e.g. tauri://drag-drop) to the page's listeners. */
  w.__MOCK_EMIT__ = (event: string, payload: unknown) => {
    for (const l of listeners.filter((x) => x.event === event)) callbacks.get(l.handler)?.({ event, id: l.handler, payload });
  };
}
