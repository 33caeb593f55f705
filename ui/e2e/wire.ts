// The shapes the fake backend sends, taken from the generated bindings (src/bindings.ts, from Rust):
// a Rust type or command that changes breaks the e2e data at compile time (`npm run check`).
import type { commands, ErrorReport_Serialize, RunEvent_Serialize } from '../src/bindings';

export type {
  AccountSetup_Serialize as AccountSetup,
  AccountView_Serialize as AccountView,
  AmiInfo,
  CachedEnvironment,
  StoredFiles_Serialize as StoredFiles,
  CheckedFile,
  DataFolderSummary,
  DataReview_Serialize as DataReview,
  DeleteReport_Serialize as DeleteReport,
  DownloadProgress_Serialize as DownloadProgress,
  DownloadReport_Serialize as DownloadReport,
  Identity,
  LogLine,
  LogName,
  MetricPoint_Serialize as MetricPoint,
  MetricSeries,
  RunSummary_Serialize as RunSummary,
  InstanceTypeInfo_Serialize as InstanceTypeInfo,
  LiveStatus_Serialize as LiveStatus,
  Leftover_Serialize as Leftover,
  LeftoverScan_Serialize as LeftoverScan,
  ScanFailure_Serialize as ScanFailure,
  MonthCost,
  Quote_Serialize as Quote,
  SpotPrice,
  MissingPermission,
  PolicyDocument,
  SetupPlan,
  Outcome,
  ProfileInfo_Serialize as ProfileInfo,
  ProjectView_Serialize as ProjectView,
  RegionInfo,
  RunRecord_Serialize as RunRecord,
  Step,
  StepState,
} from '../src/bindings';

/** What a command rejects with. */
export type MockError = ErrorReport_Serialize;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** One event as the backend sends it on a run's Channel (RunEvent; the mock adds the run id). */
export type MockEvent = DistributiveOmit<RunEvent_Serialize, 'runId'>;
/** A step's progress event (RunEvent kind "step"). */
export type MockStepEvent = Extract<MockEvent, { kind: 'step' }>;

/** `listAccounts` → `list_accounts`: the name Rust gives the command. */
type Snake<S extends string> = S extends `${infer H}${infer T}` ? `${H extends Lowercase<H> ? H : `_${Lowercase<H>}`}${Snake<T>}` : S;

/** What a command answers: the data of its Result, or its plain value. */
type Answer<F> = F extends (...args: never[]) => Promise<infer R> ? Data<R> : never;
type Data<R> = [R] extends [{ status: string }] ? (Extract<R, { status: 'ok' }> extends { data: infer D } ? D : never) : R;

type Commands = typeof commands;

/** Command name as Rust names it → what it answers, for every command of the bindings. */
export type MockResults = { [K in keyof Commands as Snake<K & string>]: Answer<Commands[K]> };
export type CommandName = keyof MockResults;
