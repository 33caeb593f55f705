// The one place that touches the generated bindings (src/bindings.ts, from Rust by tauri-specta).
// It names the wire types the UI uses (values coming from Rust are the `_Serialize` forms,
// values sent to Rust the `_Deserialize` forms) and turns a command's result into
// "return the data or throw the ErrorReport".
import type * as B from '../bindings';

export { commands } from '../bindings';

export type AppError = B.ErrorReport_Serialize;
export type AccountView = B.AccountView_Serialize;
export type AccountSetup = B.AccountSetup_Serialize;
export type AdminInput = B.AdminInput_Deserialize;
export type SetupPlan = B.SetupPlan;
export type PolicyDocument = B.PolicyDocument;
export type ProfileInfo = B.ProfileInfo_Serialize;
export type RegionInfo = B.RegionInfo;
export type PickedFile = B.CheckedFile;
/** What the Code step shows of the project folder: what will be sent, the script and requirements found. */
export type ProjectView = B.ProjectView_Serialize;
export type DataFolderSummary = B.DataFolderSummary;
export type DataSource = B.DataSource;
/** What the Review step shows of the run's data (the backend counts and prices it). */
export type DataReview = B.DataReview_Serialize;
export type ProjectSummary = B.ProjectSummary_Serialize;
export type PracticeProgress = B.PracticeProgress;
export type FileKind = B.FileKind;
export type InstanceTypeInfo = B.InstanceTypeInfo_Serialize;
export type AmiInfo = B.AmiInfo;
export type RunRecord = B.RunRecord_Serialize;
export type LiveStatus = B.LiveStatus_Serialize;
export type DeleteReport = B.DeleteReport_Serialize;
export type DownloadReport = B.DownloadReport_Serialize;
export type Cleanup = B.Cleanup;
export type TrainRequest = B.TrainRequest_Deserialize;
export type BestBy = B.BestBy;
export type GridAxis = B.GridAxis;
export type SweepMode = B.SweepMode;
export type SweepValues = B.SweepValues;
export type SweepPlan = B.SweepPlan_Serialize;
export type SweepRequest = B.SweepRequest_Deserialize;
export type SweepRecord = B.SweepRecord_Serialize;
export type SweepView = B.SweepView_Serialize;
export type ProgressEvent = B.ProgressEvent_Deserialize;
/** Everything a run's Channel carries: step progress, log lines, a log starting again, metric values. */
export type RunEvent = B.RunEvent_Deserialize;
export type LogName = B.LogName;
export type LogLine = B.LogLine;
export type LogWindow = B.LogWindow;
export type MetricPoint = B.MetricPoint_Deserialize;
export type MetricSeries = B.MetricSeries;
export type DownloadProgress = B.DownloadProgress_Deserialize;
export type RunSummary = B.RunSummary_Serialize;
export type Phase = B.Phase;
export type Step = B.Step;
export type Outcome = B.Outcome;
export type AppInfo = B.AppInfo;
export type Quote = B.Quote_Serialize;
export type SpotPrice = B.SpotPrice;
export type Refresh = B.Refresh_Serialize;
export type RunStatus = B.RunStatus_Serialize;
export type MonthCost = B.MonthCost;
export type RunCost = B.RunCost;
export type Leftover = B.Leftover_Serialize;
export type LeftoverKind = B.LeftoverKind;
export type LeftoverScan = B.LeftoverScan_Serialize;
export type ScanFailure = B.ScanFailure_Serialize;
export type BaseScan = B.BaseScan_Serialize;
export type BaseRemoval = B.BaseRemoval_Serialize;
export type CachedEnvironment = B.CachedEnvironment;
/** A machine kept warm after a run, for the next one. */
export type WarmMachine = B.WarmMachine_Serialize;
/** The project and data files kept in one run bucket (sent once, shared by every run). */
export type StoredFiles = B.StoredFiles_Serialize;
export type FilesDeleted = B.FilesDeleted;
/** A region made ready before its first run: its bucket and easyTDV's shared resources. */
export type RegionReady = B.RegionReady;

type CommandResult<T> = { status: 'ok'; data: T } | { status: 'error'; error: AppError };

export async function ok<T>(p: Promise<CommandResult<T>>): Promise<T> {
  const r = await p;
  if (r.status === 'ok') return r.data;
  throw r.error;
}
