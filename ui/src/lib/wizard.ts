// New-run wizard: a small pure state machine (Code → Machine → Storage → Review).
import { emptySweep, type SweepDraft } from './sweep';
import type { DataFolderSummary, DataSource } from './api';
import { parseBudget } from './cost';
import { validateAmiId, validateBucketName, validateDiskGb, validateMachineCount, validateMaxRuntimeHours } from './validation';

export const WIZARD_STEPS = ['code', 'machine', 'storage', 'review'] as const;
export type WizardStep = (typeof WIZARD_STEPS)[number];

export const STEP_TITLES: Record<WizardStep, string> = {
  code: 'Code',
  machine: 'Machine',
  storage: 'Storage',
  review: 'Review',
};

export interface FileRef {
  path: string;
  name: string;
}

/** Where the training runs: one EC2 machine, or a SageMaker training job (managed, one or more machines). */
export type EngineChoice = 'ec2' | 'sageMaker';

/** The most secrets one run takes (the backend's secrets::MAX_PER_RUN). */
export const MAX_SECRETS_PER_RUN = 20;

export interface WizardData {
  accountId: string | null;
  region: string;
  script: FileRef | null;
  requirements: FileRef | null;
  /** The project folder chosen with "Choose another folder"; null: the script's own folder. */
  projectDir: string | null;
  engine: EngineChoice;
  /** The EC2 machine type (engine 'ec2'). */
  instanceType: string;
  /** The SageMaker training type, ml.* (engine 'sageMaker'). */
  trainingType: string;
  /** SageMaker: how many machines, as typed. */
  machines: number | string;
  /** Spot capacity: SageMaker's managed spot, or an EC2 spot machine (on demand when AWS has none). */
  spot: boolean;
  diskGb: number | string;
  maxRuntimeHours: number | string;
  amiMode: 'auto' | 'custom';
  customAmi: string;
  bucketMode: 'existing' | 'new';
  existingBucket: string;
  newBucket: string;
  /** Optional budget cap in dollars, as typed ('' = none). */
  budgetUsd: string;
  /** EC2: after a success, keep the machine on this many minutes for the next run (0 = no). */
  keepWarmMinutes: number;
  /** "Arguments for train.py", as typed (split by the backend like a shell would). */
  argsText: string;
  /** Plain environment variables, one NAME=value a line, as typed. */
  envText: string;
  /** What the backend made of the two fields, for `scriptInputsFor`; null: not checked yet. */
  scriptInputs: ScriptInputs | null;
  /** Why the backend refused them (an unclosed quote, a name easyTDV sets…), and which field it is about. */
  scriptInputsError: { field: 'args' | 'env'; message: string } | null;
  /** The fields and engine `scriptInputs` / `scriptInputsError` answer (see scriptInputsKey). */
  scriptInputsFor: string;
  /** Names of the account's secrets train.py gets as environment variables (never their values). */
  secrets: string[];
  /** The run's data: none, a folder chosen with the dialog, or an S3 location typed. */
  dataMode: 'none' | 'folder' | 's3';
  /** The data folder chosen with the dialog, as the backend summed it up. */
  dataFolder: DataFolderSummary | null;
  /** A recorded run's data folder that is gone or empty now ("Run again with changes"). */
  dataFolderLost: string | null;
  /** The S3 location, as typed. */
  dataUrlText: string;
  /** The location as the backend wrote it (s3://bucket/prefix/) for `dataUrlFor`; null: refused or not checked. */
  dataUrl: string | null;
  /** Why the backend refused `dataUrlFor`. */
  dataUrlError: string | null;
  /** The text `dataUrl` / `dataUrlError` answer. */
  dataUrlFor: string;
  /** Several runs with different arguments (a sweep), as typed on the Review step. */
  sweep: SweepDraft;
}

/** The arguments and variables split and checked by the backend: what train.py gets. */
export interface ScriptInputs {
  args: string[];
  env: { name: string; value: string }[];
}

/** What a check of the arguments and variables fields is for: both texts and the engine (its limits differ). */
export function scriptInputsKey(data: Pick<WizardData, 'argsText' | 'envText' | 'engine'>): string {
  return JSON.stringify([data.argsText, data.envText, data.engine]);
}

/** Whether the arguments or variables fields say anything (empty ones need no check). */
export function hasScriptInputs(data: Pick<WizardData, 'argsText' | 'envText'>): boolean {
  return data.argsText.trim() !== '' || data.envText.trim() !== '';
}

/** The checked arguments and variables for these fields: empty when the fields are; null while unchecked or refused. */
export function checkedScriptInputs(data: WizardData): ScriptInputs | null {
  if (!hasScriptInputs(data)) return { args: [], env: [] };
  return data.scriptInputsFor === scriptInputsKey(data) && !data.scriptInputsError ? data.scriptInputs : null;
}

export interface WizardState {
  step: WizardStep;
  /** Furthest step reached: steps up to it can be revisited from the step list. */
  furthest: WizardStep;
  data: WizardData;
  /** Set once the user tried to leave a step: errors are shown only then (no shouting while typing). */
  attempted: Partial<Record<WizardStep, boolean>>;
}

export const DEFAULT_DISK_GB = 30;
export const DEFAULT_MAX_RUNTIME_HOURS = 24;
export const DEFAULT_INSTANCE_TYPE = 't3.medium';

export function initialWizard(partial: Partial<WizardData> = {}): WizardState {
  return {
    step: 'code',
    furthest: 'code',
    attempted: {},
    data: {
      sweep: emptySweep(),
      accountId: null,
      region: '',
      script: null,
      requirements: null,
      projectDir: null,
      engine: 'ec2',
      instanceType: '',
      trainingType: '',
      machines: 1,
      spot: false,
      diskGb: DEFAULT_DISK_GB,
      maxRuntimeHours: DEFAULT_MAX_RUNTIME_HOURS,
      amiMode: 'auto',
      customAmi: '',
      bucketMode: 'new',
      existingBucket: '',
      newBucket: '',
      budgetUsd: '',
      keepWarmMinutes: 0,
      argsText: '',
      envText: '',
      scriptInputs: null,
      scriptInputsError: null,
      scriptInputsFor: '',
      secrets: [],
      dataMode: 'none',
      dataFolder: null,
      dataFolderLost: null,
      dataUrlText: '',
      dataUrl: null,
      dataUrlError: null,
      dataUrlFor: '',
      ...partial,
    },
  };
}

export type FieldErrors = Partial<Record<string, string>>;

/** What the run's data is, once chosen and checked: null when there is none, undefined while incomplete. */
export function dataSourceOf(data: WizardData): DataSource | null | undefined {
  switch (data.dataMode) {
    case 'none':
      return null;
    case 'folder':
      return data.dataFolder ? { kind: 'folder', path: data.dataFolder.path } : undefined;
    case 's3':
      return data.dataUrlFor === data.dataUrlText && data.dataUrl ? { kind: 's3', url: data.dataUrl } : undefined;
  }
}

/** What is missing or wrong in the Data card (none when the run has no data). */
export function dataError(data: WizardData): string | null {
  if (data.dataMode === 'folder' && !data.dataFolder)
    return data.dataFolderLost
      ? `The data folder ${data.dataFolderLost} is gone or empty: choose it again, or remove the data.`
      : 'Choose the data folder, or remove the data.';
  if (data.dataMode === 's3') {
    if (!data.dataUrlText.trim()) return 'Type the S3 location of your data (s3://bucket/folder/), or remove the data.';
    if (data.dataUrlFor === data.dataUrlText && data.dataUrlError) return data.dataUrlError;
    if (!dataSourceOf(data)) return 'Checking the S3 location…';
  }
  return null;
}

/** The data folder's path inside the project folder ("data/points"), or null when it is elsewhere. */
export function dataInProject(folder: string, projectRoot: string | null | undefined): string | null {
  if (!projectRoot) return null;
  const root = projectRoot.replace(/[/\\]+$/, '');
  if (folder.length <= root.length + 1 || !folder.startsWith(root)) return null;
  const sep = folder.charAt(root.length);
  return sep === '/' || sep === '\\' ? folder.slice(root.length + 1) : null;
}

export function stepErrors(data: WizardData, step: WizardStep): FieldErrors {
  const e: FieldErrors = {};
  switch (step) {
    case 'code':
      if (!data.script) e.script = 'Choose your training script (a .py file such as train.py, or a .ipynb notebook).';
      if (!data.requirements) e.requirements = 'Choose your requirements.txt (the Python packages your script needs).';
      {
        const d = dataError(data);
        if (d) e.data = d;
      }
      break;
    case 'machine': {
      if (!data.accountId) e.account = 'Choose the AWS account to use.';
      if (!data.region) e.region = 'Choose a region (where the machine runs).';
      if (!chosenType(data)) e.instanceType = 'Choose a machine type.';
      const disk = validateDiskGb(data.diskGb);
      if (disk) e.diskGb = disk;
      const hours = validateMaxRuntimeHours(data.maxRuntimeHours);
      if (hours) e.maxRuntimeHours = hours;
      if (data.engine === 'sageMaker') {
        const count = validateMachineCount(data.machines);
        if (count) e.machines = count;
      } else if (data.amiMode === 'custom') {
        const ami = validateAmiId(data.customAmi);
        if (ami) e.customAmi = ami;
      }
      break;
    }
    case 'storage':
      if (data.bucketMode === 'existing') {
        if (!data.existingBucket) e.bucket = 'Choose one of your buckets, or create a new one.';
      } else {
        const b = validateBucketName(data.newBucket);
        if (b) e.newBucket = b;
      }
      break;
    case 'review':
      for (const s of WIZARD_STEPS.slice(0, 3)) Object.assign(e, stepErrors(data, s));
      {
        const budget = parseBudget(data.budgetUsd).error;
        if (budget) e.budgetUsd = budget;
      }
      if (hasScriptInputs(data) && data.scriptInputsFor === scriptInputsKey(data) && data.scriptInputsError)
        e.scriptInputs = data.scriptInputsError.message;
      else if (!checkedScriptInputs(data)) e.scriptInputs = 'Checking the arguments and variables…';
      if (data.secrets.length > MAX_SECRETS_PER_RUN)
        e.secrets = `A run takes at most ${MAX_SECRETS_PER_RUN} secrets: leave out the ones train.py does not read.`;
      if (data.engine === 'sageMaker' && data.dataMode === 's3' && data.dataUrl && !sageMakerReads(data.dataUrl))
        e.data =
          'A SageMaker job reads an S3 location only under easytdv/ in a bucket of this account (not easyTDV’s own folders blobs/, cache/ or runs/ other than a run’s outputs): copy the data under s3://<bucket>/easytdv/…, choose it as a folder on the Code step, or choose “One machine (EC2)”.';
      break;
  }
  return e;
}

/** Whether a SageMaker job's role may read a checked S3 location (`s3://bucket/prefix/`): the permissions
 * boundary keeps run roles under easytdv/ of the account's buckets (the core's `data_source::sagemaker_may_read`). */
export function sageMakerReads(url: string): boolean {
  const m = /^s3:\/\/[^/]+\/easytdv\/(.+)$/.exec(url);
  const rest = m?.[1] ?? '';
  if (!/^[A-Za-z0-9!_.'() /-]+$/.test(rest)) return false;
  // Never easyTDV's own folders (every project's files, environments, runs' inputs); a run's outputs may be data.
  const [first, id, third] = rest.split('/');
  if (first === 'blobs' || first === 'cache') return false;
  if (first === 'runs') return Boolean(id) && third === 'outputs';
  return true;
}

export function isStepValid(data: WizardData, step: WizardStep): boolean {
  return Object.keys(stepErrors(data, step)).length === 0;
}

export function stepIndex(step: WizardStep): number {
  return WIZARD_STEPS.indexOf(step);
}

/** Try to move forward: when the current step has errors, stay and mark it attempted. */
export function next(state: WizardState): WizardState {
  const attempted = { ...state.attempted, [state.step]: true };
  if (!isStepValid(state.data, state.step)) return { ...state, attempted };
  const i = stepIndex(state.step);
  const step = WIZARD_STEPS[Math.min(i + 1, WIZARD_STEPS.length - 1)] ?? state.step;
  const furthest = stepIndex(step) > stepIndex(state.furthest) ? step : state.furthest;
  return { ...state, step, furthest, attempted };
}

export function back(state: WizardState): WizardState {
  const i = stepIndex(state.step);
  return { ...state, step: WIZARD_STEPS[Math.max(0, i - 1)] ?? 'code' };
}

/** Jump to a step from the step list: allowed backwards, or forward up to the furthest step when all steps before it are valid. */
export function canGoTo(state: WizardState, target: WizardStep): boolean {
  const t = stepIndex(target);
  if (t <= stepIndex(state.step)) return true;
  if (t > stepIndex(state.furthest)) return false;
  return WIZARD_STEPS.slice(0, t).every((s) => isStepValid(state.data, s));
}

export function goTo(state: WizardState, target: WizardStep): WizardState {
  return canGoTo(state, target) ? { ...state, step: target } : state;
}

export function update(state: WizardState, patch: Partial<WizardData>): WizardState {
  const data = { ...state.data, ...patch };
  // Changing something earlier can invalidate later steps: cap `furthest` at the first invalid step.
  let furthest = state.furthest;
  for (const s of WIZARD_STEPS) {
    if (stepIndex(s) >= stepIndex(furthest)) break;
    if (!isStepValid(data, s)) {
      furthest = stepIndex(s) < stepIndex(state.step) ? state.step : s;
      break;
    }
  }
  return { ...state, data, furthest };
}

export function chosenBucket(data: WizardData): string {
  return (data.bucketMode === 'existing' ? data.existingBucket : data.newBucket).trim();
}

export function chosenAmi(data: WizardData): string | null {
  return data.engine === 'ec2' && data.amiMode === 'custom' ? data.customAmi.trim() : null;
}

/** The machine type of the chosen engine: an EC2 type, or an ml.* training type. */
export function chosenType(data: WizardData): string {
  return data.engine === 'sageMaker' ? data.trainingType : data.instanceType;
}

/** How many machines the run bills (1 on EC2). */
export function machineCount(data: WizardData): number {
  return data.engine === 'sageMaker' ? Number(data.machines) : 1;
}

/** The account and the start request, once every step is valid; null otherwise. */
export function launchFields(data: WizardData) {
  if (!isStepValid(data, 'review') || !data.script || !data.requirements || !data.accountId) return null;
  const inputs = checkedScriptInputs(data);
  if (!inputs) return null;
  const source = dataSourceOf(data);
  if (source === undefined) return null;
  return {
    accountId: data.accountId,
    request: {
      scriptPath: data.script.path,
      requirementsPath: data.requirements.path,
      instanceType: chosenType(data),
      diskGb: Number(data.diskGb),
      region: data.region,
      bucket: chosenBucket(data),
      ami: chosenAmi(data),
      maxRuntimeHours: Number(data.maxRuntimeHours),
      budgetUsd: parseBudget(data.budgetUsd).value,
      // Names only: the backend reads the values from the keychain.
      ...(data.secrets.length > 0 ? { secrets: [...data.secrets] } : {}),
      // The project folder, when another than the script's own was chosen (the backend checks it was).
      ...(data.projectDir ? { projectDir: data.projectDir } : {}),
      // EC2 requests stay as before (the backend's default engine); SageMaker says so, with its machines.
      ...(data.engine === 'sageMaker'
        ? { engine: { kind: 'sageMaker' as const, instanceCount: Number(data.machines), spot: data.spot } }
        : {}),
      // An EC2 spot machine (SageMaker's spot is its engine's).
      ...(data.engine === 'ec2' && data.spot ? { spot: true } : {}),
      // Kept warm for the next run: EC2 only (a training job's machines end with it).
      ...(data.engine === 'ec2' && data.keepWarmMinutes > 0 ? { keepWarmMinutes: data.keepWarmMinutes } : {}),
      // Arguments and variables only when given (the backend's defaults are none).
      ...(hasScriptInputs(data) ? { args: inputs.args, argsText: data.argsText, env: inputs.env } : {}),
      // The data folder (the backend checks it was chosen) or S3 location, when there is one.
      ...(source ? { data: source } : {}),
    },
  };
}

/** The wizard filled from a recorded run ("Run again with changes"): every field, at the Review step. */
export function wizardFromRun(
  accountId: string,
  request: {
    scriptPath: string;
    requirementsPath: string;
    instanceType: string;
    diskGb: number;
    region: string;
    bucket: string;
    ami: string | null;
    maxRuntimeHours: number;
    budgetUsd: number | null;
    keepWarmMinutes?: number | null;
    spot?: boolean;
    engine?: { kind: 'ec2' } | { kind: 'sageMaker'; instanceCount: number; spot: boolean };
    argsText?: string;
    env?: { name: string; value: string }[];
    projectDir?: string | null;
    data?: DataSource | null;
  },
  files: { script: FileRef | null; requirements: FileRef | null; dataFolder?: DataFolderSummary | null },
): WizardState {
  const source = request.data ?? null;
  const folder = source?.kind === 'folder' ? (files.dataFolder ?? null) : null;
  const sageMaker = request.engine?.kind === 'sageMaker' ? request.engine : null;
  const data: Partial<WizardData> = {
    accountId,
    region: request.region,
    script: files.script,
    requirements: files.requirements,
    engine: sageMaker ? 'sageMaker' : 'ec2',
    instanceType: sageMaker ? '' : request.instanceType,
    trainingType: sageMaker ? request.instanceType : '',
    machines: sageMaker ? sageMaker.instanceCount : 1,
    spot: sageMaker ? sageMaker.spot : (request.spot ?? false),
    diskGb: request.diskGb,
    maxRuntimeHours: request.maxRuntimeHours,
    amiMode: request.ami ? 'custom' : 'auto',
    customAmi: request.ami ?? '',
    bucketMode: 'existing',
    existingBucket: request.bucket,
    budgetUsd: request.budgetUsd === null ? '' : String(request.budgetUsd),
    keepWarmMinutes: request.keepWarmMinutes ?? 0,
    argsText: request.argsText ?? '',
    envText: (request.env ?? []).map((v) => `${v.name}=${v.value}`).join('\n'),
    projectDir: request.projectDir ?? null,
    dataMode: source ? (source.kind === 'folder' ? 'folder' : 's3') : 'none',
    dataFolder: folder,
    dataFolderLost: source?.kind === 'folder' && !folder ? source.path : null,
    // The recorded location was checked when the run started.
    dataUrlText: source?.kind === 's3' ? source.url : '',
    dataUrl: source?.kind === 's3' ? source.url : null,
    dataUrlFor: source?.kind === 's3' ? source.url : '',
  };
  const state = initialWizard(data);
  // Straight to the Review step when the files (and the data folder) are still there; else the Code step asks for them again.
  const step: WizardStep = files.script && files.requirements && !data.dataFolderLost ? 'review' : 'code';
  return { ...state, step, furthest: step === 'review' ? 'review' : 'code' };
}
