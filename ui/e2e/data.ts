// Fake backend data, typed with the generated bindings' types (./wire): a Rust type that changes breaks it at compile time.
import type { MockResults } from './mock-backend';
import type {
  AccountView,
  AmiInfo,
  CachedEnvironment,
  StoredFiles,
  CheckedFile,
  DataFolderSummary,
  DeleteReport,
  DownloadReport,
  Identity,
  InstanceTypeInfo,
  Leftover,
  LeftoverScan,
  LiveStatus,
  MonthCost,
  Quote,
  SpotPrice,
  MockStepEvent,
  Outcome,
  ProjectView,
  RegionInfo,
  RunRecord,
  Step,
} from './wire';

export const REGIONS: RegionInfo[] = [
  { code: 'us-east-1', name: 'US East (N. Virginia)', optIn: false, sageMaker: true },
  { code: 'eu-west-3', name: 'Europe (Paris)', optIn: false, sageMaker: true },
  { code: 'eu-central-1', name: 'Europe (Frankfurt)', optIn: false, sageMaker: true },
  { code: 'ap-northeast-1', name: 'Asia Pacific (Tokyo)', optIn: false, sageMaker: true },
  { code: 'af-south-1', name: 'Africa (Cape Town)', optIn: true, sageMaker: true },
];

/** The regions enabled for an account, as AWS lists them (no opt-in region enabled). */
export const ACCOUNT_REGIONS: RegionInfo[] = [
  { code: 'eu-west-3', name: 'Europe (Paris)', optIn: false, sageMaker: true },
  { code: 'eu-north-1', name: 'Europe (Stockholm)', optIn: false, sageMaker: true },
  { code: 'us-east-1', name: 'US East (N. Virginia)', optIn: false, sageMaker: true },
];

export const KEYS_ACCOUNT: AccountView = {
  id: 'acc-1',
  name: 'Work',
  kind: 'keys',
  region: 'eu-west-3',
  maskedKeyId: 'AKIA…MPLE',
  profile: null,
  endpoint: null,
  isDefault: true,
  createdAt: '2026-11-01T10:00:00Z',
};

export const SANDBOX_ACCOUNT: AccountView = {
  id: 'acc-sbx',
  name: 'Local sandbox',
  kind: 'sandbox',
  region: 'us-east-1',
  maskedKeyId: null,
  profile: null,
  endpoint: 'http://127.0.0.1:4566',
  isDefault: false,
  createdAt: '2026-11-01T10:00:00Z',
};

export const PROFILE_ACCOUNT: AccountView = {
  id: 'acc-2',
  name: 'Lab',
  kind: 'profile',
  region: 'us-east-1',
  maskedKeyId: null,
  profile: 'lab',
  endpoint: null,
  isDefault: false,
  createdAt: '2026-11-01T10:00:00Z',
};

export const IDENTITY: Identity = { accountId: '123456789012', arn: 'arn:aws:iam::123456789012:user/marie' };

export const INSTANCE_TYPES: InstanceTypeInfo[] = [
  {
    name: 't3.micro',
    vcpus: 2,
    memoryMib: 1024,
    gpuCount: 0,
    gpuModel: null,
    arm: false,
    category: 'general',
    accelerator: 'none',
    warning: null,
    previousGeneration: false,
    usdPerHour: 0.0118,
    recommended: null,
  },
  {
    name: 't3.medium',
    vcpus: 2,
    memoryMib: 4096,
    gpuCount: 0,
    gpuModel: null,
    arm: false,
    category: 'general',
    accelerator: 'none',
    warning: null,
    previousGeneration: false,
    usdPerHour: 0.0472,
    recommended: 'Good for a first try and small scikit-learn or pandas jobs',
  },
  {
    name: 'm5.xlarge',
    vcpus: 4,
    memoryMib: 16384,
    gpuCount: 0,
    gpuModel: null,
    arm: false,
    category: 'general',
    accelerator: 'none',
    warning: null,
    previousGeneration: false,
    usdPerHour: 0.224,
    recommended: null,
  },
  {
    name: 'c5.2xlarge',
    vcpus: 8,
    memoryMib: 16384,
    gpuCount: 0,
    gpuModel: null,
    arm: false,
    category: 'compute',
    accelerator: 'none',
    warning: null,
    previousGeneration: false,
    usdPerHour: 0.404,
    recommended: null,
  },
  {
    name: 'r5.large',
    vcpus: 2,
    memoryMib: 16384,
    gpuCount: 0,
    gpuModel: null,
    arm: false,
    category: 'memory',
    accelerator: 'none',
    warning: null,
    previousGeneration: false,
    usdPerHour: 0.152,
    recommended: null,
  },
  {
    name: 'g4dn.xlarge',
    vcpus: 4,
    memoryMib: 16384,
    gpuCount: 1,
    gpuModel: 'NVIDIA T4',
    arm: false,
    category: 'gpu',
    accelerator: 'nvidia',
    warning: null,
    previousGeneration: false,
    usdPerHour: 0.737,
    recommended: 'Good for deep learning with PyTorch or TensorFlow: one NVIDIA GPU',
  },
  {
    name: 'g5.2xlarge',
    vcpus: 8,
    memoryMib: 32768,
    gpuCount: 1,
    gpuModel: 'NVIDIA A10G',
    arm: false,
    category: 'gpu',
    accelerator: 'nvidia',
    warning: null,
    previousGeneration: false,
    usdPerHour: 1.362,
    recommended: null,
  },
];

/** SageMaker's training types (list_training_types): ml.* twins of EC2 types, SageMaker's price per machine. */
export const TRAINING_TYPES: InstanceTypeInfo[] = [
  ['ml.m5.large', 2, 8192, 0, null, 'general', 0.115, null],
  ['ml.m5.xlarge', 4, 16384, 0, null, 'general', 0.23, 'Good for a first managed run and CPU work'],
  ['ml.c5.2xlarge', 8, 16384, 0, null, 'compute', 0.408, null],
  ['ml.g5.xlarge', 4, 16384, 1, 'NVIDIA A10G', 'gpu', 1.408, 'Good for deep learning: one NVIDIA GPU per machine'],
  ['ml.g5.12xlarge', 48, 196608, 4, 'NVIDIA A10G', 'gpu', 7.09, 'Good for bigger models: four NVIDIA GPUs per machine'],
].map(([name, vcpus, memoryMib, gpuCount, gpuModel, category, usdPerHour, recommended]) => ({
  name: name as string,
  vcpus: vcpus as number,
  memoryMib: memoryMib as number,
  gpuCount: gpuCount as number,
  gpuModel: gpuModel as string | null,
  arm: false,
  category: category as InstanceTypeInfo['category'],
  accelerator: (gpuCount ? 'nvidia' : 'none') as InstanceTypeInfo['accelerator'],
  warning: null,
  previousGeneration: false,
  usdPerHour: usdPerHour as number,
  recommended: recommended as string | null,
}));

/** Older generations, behind "Show older types". */
export const OLDER_TYPES: InstanceTypeInfo[] = [
  {
    name: 'm4.large',
    vcpus: 2,
    memoryMib: 8192,
    gpuCount: 0,
    gpuModel: null,
    arm: false,
    category: 'general',
    accelerator: 'none',
    warning: null,
    previousGeneration: true,
    usdPerHour: 0.116,
    recommended: null,
  },
  {
    name: 'c4.xlarge',
    vcpus: 4,
    memoryMib: 7680,
    gpuCount: 0,
    gpuModel: null,
    arm: false,
    category: 'compute',
    accelerator: 'none',
    warning: null,
    previousGeneration: true,
    usdPerHour: null,
    recommended: null,
  },
];

export const AMI: AmiInfo = {
  id: 'ami-0a1b2c3d4e5f67890',
  name: 'al2023-ami-2023.6.20241121.0-kernel-6.1-x86_64',
  minDiskGb: 8,
  rootDeviceName: '/dev/xvda',
};

export const SCRIPT: CheckedFile = { path: '/home/marie/project/train.py', name: 'train.py', sizeBytes: 4321, packages: [] };
export const REQUIREMENTS: CheckedFile = {
  path: '/home/marie/project/requirements.txt',
  name: 'requirements.txt',
  sizeBytes: 120,
  packages: ['numpy==1.26.4', 'pandas>=2.2', 'scikit-learn', 'joblib'],
};

/**
 * What the Code step shows of /home/marie/project (the script's folder): its files, the largest, what is left out,
 * and its requirements.txt, found.
 */
export const PROJECT: ProjectView = {
  projectDir: null,
  summary: {
    root: '/home/marie/project',
    entry: 'train.py',
    fileCount: 5,
    totalBytes: 31_500,
    headline: '5 files, 30.8 KB',
    largest: [
      { path: 'data/points.csv', sizeBytes: 24_000, size: '23.4 KB' },
      { path: 'train.py', sizeBytes: 4321, size: '4.2 KB' },
      { path: 'model.py', sizeBytes: 2900, size: '2.8 KB' },
    ],
    warning: null,
    notes: [],
    neverSent: ['.git', '.venv', '__pycache__'],
    requirements: 'requirements.txt',
  },
  script: SCRIPT,
  requirements: REQUIREMENTS,
};

/** The same folder with no requirements.txt (the user chooses one): what signedIn() answers. */
export const PROJECT_NO_REQUIREMENTS: ProjectView = {
  ...PROJECT,
  summary: { ...PROJECT.summary, requirements: null },
  requirements: null,
};

export const RUN_ID = '20261126-143000-a1b2c3';
export const OUTPUTS_URI = `s3://easytdv-123456789012-eu-west-3/easytdv/runs/${RUN_ID}/outputs/`;

export const RUN_STEPS = ['prepare', 'stack', 'instance', 'requirements', 'training', 'outputs'] as const satisfies readonly Step[];

// Plain words, as the backend now says them.
const MESSAGES: Record<Step, [string, string]> = {
  prepare: ['Uploading your files', 'Your files are in easytdv-123456789012-eu-west-3'],
  stack: ['Creating the cloud resources', 'Cloud resources are ready'],
  instance: ['Starting the machine (t3.medium)', 'The machine is running and connected'],
  requirements: ['Installing your packages', '4 packages installed'],
  training: ['Running train.py', 'train.py finished: accuracy 0.93'],
  outputs: ['Saving the outputs', '3 files saved to your bucket'],
  delete: ["Looking for the run's resources", 'The machine, the stack and 4 input files were deleted'],
};

export const FAILURES: Partial<Record<Step, { message: string; detail: string }>> = {
  prepare: {
    message: 'The bucket name is already taken by another AWS account.',
    detail: 'BucketAlreadyExists: The requested bucket name is not available.',
  },
  stack: {
    message: 'AWS refused to create the role easytdv-…-instance: your keys may not create IAM roles.',
    detail: 'InstanceRole CREATE_FAILED: User: arn:aws:iam::123456789012:user/marie is not authorized to perform: iam:CreateRole',
  },
  instance: {
    message: 'AWS has no t3.medium capacity in this zone right now.',
    detail: 'InsufficientInstanceCapacity: We currently do not have sufficient t3.medium capacity in the Availability Zone you requested.',
  },
  requirements: {
    message: 'pip could not install a package from requirements.txt.',
    detail:
      'Collecting numpy==1.26.4\n  Downloading numpy-1.26.4.tar.gz (15.8 MB)\nERROR: Could not find a version that satisfies the requirement tensorflw\nERROR: No matching distribution found for tensorflw',
  },
  training: {
    message: 'train.py stopped with an error (exit code 1).',
    detail:
      'Epoch 1/10 loss=0.693\nTraceback (most recent call last):\n  File "/opt/easytdv/run/train.py", line 42, in <module>\n    model.fit(X, y)\nValueError: Input contains NaN, infinity or a value too large for dtype(\'float64\').',
  },
  outputs: {
    message: 'The outputs could not be copied to the bucket.',
    detail: 'upload failed: output/model.pkl to s3://easytdv-…/outputs/model.pkl An error occurred (AccessDenied)',
  },
};

/**
 * Events of a run that succeeds, or fails at `failAt`. After a success the backend deletes the
 * machine and the stack by itself, on the same channel (`cleanup: false` leaves that out).
 */
export function runEvents(failAt: Step | null = null, cleanup = true): MockStepEvent[] {
  const out: MockStepEvent[] = [];
  for (const step of RUN_STEPS) {
    const [running, done] = MESSAGES[step];
    out.push({ kind: 'step', step, state: 'running', elapsedMs: 0, message: running, detail: null });
    // elapsedMs counts from the step's start.
    const t = 1500 + out.length * 7300;
    if (step === failAt) {
      const f = FAILURES[step];
      out.push({ kind: 'step', step, state: 'failed', elapsedMs: t, message: f?.message ?? 'failed', detail: f?.detail ?? null });
      return out;
    }
    out.push({ kind: 'step', step, state: 'done', elapsedMs: t, message: done, detail: null });
  }
  return cleanup ? [...out, ...deleteEvents()] : out;
}

export function deleteEvents(): MockStepEvent[] {
  const [running, done] = MESSAGES.delete;
  return [
    { kind: 'step', step: 'delete', state: 'running', elapsedMs: 0, message: running, detail: null },
    { kind: 'step', step: 'delete', state: 'running', elapsedMs: 2_000, message: 'Terminating the machine i-0abc123', detail: null },
    { kind: 'step', step: 'delete', state: 'done', elapsedMs: 48_000, message: done, detail: null },
  ];
}

export const STOPPED_MESSAGE = 'Stopped by you before it finished.';

/** What the backend sends for the step under way when the user stops a run (then the clean-up's events). */
export function stoppedEvent(step: Step, elapsedMs = 4_000): MockStepEvent {
  return { kind: 'step', step, state: 'stopped', elapsedMs, message: STOPPED_MESSAGE, detail: null };
}

/** A data folder chosen with the dialog, as the backend sums it up. */
export const DATA_FOLDER: DataFolderSummary = {
  path: '/home/marie/datasets/points',
  fileCount: 2,
  totalBytes: 1_203_000,
  headline: '2 files, 1.2 MB',
  largest: [
    { path: 'points.csv', sizeBytes: 1_200_000, size: '1.2 MB' },
    { path: 'labels.csv', sizeBytes: 3_000, size: '3.0 KB' },
  ],
  notes: [],
  neverSent: ['.git'],
};

/** What the wizard asked for (a run's request). */
export const REQUEST: NonNullable<RunRecord['request']> = {
  scriptPath: SCRIPT.path,
  requirementsPath: REQUIREMENTS.path,
  instanceType: 't3.medium',
  diskGb: 30,
  region: 'eu-west-3',
  bucket: 'easytdv-123456789012-eu-west-3',
  ami: null,
  maxRuntimeHours: 24,
  budgetUsd: null,
  engine: { kind: 'ec2' },
  args: [],
  argsText: '',
  env: [],
  secrets: [],
  projectDir: null,
  data: null,
  keepWarmMinutes: null,
  spot: false,
};

/** A history record (RunRecord) of the run RUN_ID. */
export function runRecord(outcome: Outcome, extra: Partial<RunRecord> = {}): RunRecord {
  return {
    runId: RUN_ID,
    createdAt: '2026-11-26T14:30:00Z',
    accountId: 'acc-1',
    request: REQUEST,
    resources: {
      runId: RUN_ID,
      region: 'eu-west-3',
      bucket: 'easytdv-123456789012-eu-west-3',
      accountId: '123456789012',
      imageId: 'ami-0a1b2c3d4e5f67890',
      cacheKey: null,
      launchedAt: null,
      zone: 'eu-west-3a',
      prefix: `easytdv/runs/${RUN_ID}`,
      uploadedKeys: [],
      stackName: `easytdv-${RUN_ID}`,
      stackId: null,
      instanceId: 'i-0abc123',
      launches: 1,
      usdPerHour: null,
      safetyStopHours: null,
      endedAt: null,
      earlierHours: 0,
      earlierUsd: 0,
      machines: 1,
      installCommandId: null,
      trainingCommandId: null,
      trainingJobName: null,
      billableSeconds: null,
      trainingSeconds: null,
      secretParameters: [],
      machineFolders: [],
      keptWarm: null,
      warmStart: false,
      market: null,
      spotRefused: null,
    },
    outcome,
    lastStep: outcome === 'succeeded' ? 'outputs' : null,
    message: null,
    detail: null,
    outputsUri: outcome === 'succeeded' ? OUTPUTS_URI : null,
    cleanup: outcome === 'succeeded' ? 'deleted' : 'none',
    cleanupMessage: null,
    summary: null,
    cost: null,
    sweepId: null,
    ...extra,
  };
}

export const LIVE_RUNNING: LiveStatus = { stackStatus: 'CREATE_COMPLETE', instanceState: 'running', active: false };
export const LIVE_GONE: LiveStatus = { stackStatus: null, instanceState: 'terminated', active: false };
/** A run just started: nothing exists yet, then the stack, then the machine. */
export const LIVE_STARTING: LiveStatus = { stackStatus: null, instanceState: null, active: true };
export const LIVE_STACK: LiveStatus = { stackStatus: 'CREATE_IN_PROGRESS', instanceState: null, active: true };
export const LIVE_ACTIVE: LiveStatus = { stackStatus: 'CREATE_COMPLETE', instanceState: 'running', active: true };

export const DOWNLOAD_REPORT: DownloadReport = {
  folder: `/home/marie/Downloads/easytdv-${RUN_ID}`,
  files: 3,
  skipped: 0,
  bytes: 5120,
  executedNotebook: null,
  renamed: [],
};

export const DELETE_REPORT: DeleteReport = {
  stoppedTrainingJob: null,
  terminatedInstances: ['i-0abc123'],
  deletedStack: `easytdv-${RUN_ID}`,
  deletedObjects: ['train.py', 'requirements.txt', 'template.yaml', 'launch.zip'].map((f) => `easytdv/runs/${RUN_ID}/${f}`),
  deletedSecrets: 0,
  keptOutputsPrefix: `easytdv/runs/${RUN_ID}/outputs/`,
};

/** t3.medium in eu-west-3 with a 30 GiB gp3 disk ($0.0912/GB-month): machine + disk per hour. */
export const T3_MEDIUM_USD_PER_HOUR = 0.0472 + (30 * 0.0912) / 730;

/** price_quote for t3.medium, 30 GiB, 24 h, no cap. */
export const QUOTE: Quote = {
  usdPerHour: T3_MEDIUM_USD_PER_HOUR,
  safetyStopHours: 24,
  atMostUsd: T3_MEDIUM_USD_PER_HOUR * 24,
  budgetIgnored: false,
};

export const SPOT_PRICES: SpotPrice[] = [
  { zone: 'eu-west-3b', usdPerHour: 0.0161 },
  { zone: 'eu-west-3a', usdPerHour: 0.0142 },
  { zone: 'eu-west-3c', usdPerHour: 0.0175 },
];

export const MONTH_COSTS: MonthCost[] = [{ accountId: 'acc-1', month: '2026-11', usd: 3.17, runs: 4, growing: false }];

/** Two things of easyTDV's in the account that this history does not know (another computer's run). */
export const LEFTOVERS: Leftover[] = [
  {
    kind: 'machine',
    region: 'eu-west-3',
    id: 'i-0f00dfeed1234abcd',
    runId: '20261020-091500-ffee01',
    usdPerHour: 0.737,
    detail: 'g4dn.xlarge, running',
    bucket: null,
  },
  {
    kind: 'files',
    region: 'eu-west-3',
    id: 's3://easytdv-123456789012-eu-west-3/easytdv/runs/20261002-170000-0abc02/',
    runId: '20261002-170000-0abc02',
    usdPerHour: null,
    detail: '4 input files (12 KB)',
    bucket: 'easytdv-123456789012-eu-west-3',
  },
];

/** A check that found `leftovers` and looked everywhere. */
export const scanOf = (leftovers: Leftover[]): LeftoverScan => ({ leftovers, failures: [] });

/**
 * Installed requirements kept in the run bucket (easytdv/cache/<key>.tar.zst and .json), newest first, as
 * list_environments answers: S3 Standard at $0.023/GB-month on the archive and its description.
 */
export const ENVIRONMENTS: CachedEnvironment[] = [
  {
    bucket: 'easytdv-123456789012-eu-west-3',
    region: 'eu-west-3',
    key: '3f9a1c0b7d2e4f6a8b1c3d5e7f90a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d1e3f5',
    requirements: 'numpy==1.26.4\npandas==2.2.2\nscikit-learn==1.5.0\ntorch==2.3.1\ntqdm==4.66.4\nmatplotlib==3.9.0',
    python: '3.11.9',
    arch: 'x86_64',
    image: 'ami-0a1b2c3d4e5f67890',
    installer: 'uv 0.4.18',
    created: '2026-11-22T09:04:12Z',
    sizeBytes: 912_345_678,
    usdPerMonth: (912_345_678 / 1e9) * 0.023,
  },
  {
    bucket: 'easytdv-123456789012-eu-west-3',
    region: 'eu-west-3',
    key: 'a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1',
    requirements: 'transformers==4.44.2\naccelerate==0.33.0\ndatasets==2.21.0',
    python: '3.10.12',
    arch: 'arm64',
    image: 'ami-0fedcba9876543210',
    installer: 'pip 24.2',
    created: '2026-10-02T17:01:40Z',
    sizeBytes: 1_834_000_000,
    usdPerMonth: (1_834_000_000 / 1e9) * 0.023,
  },
  {
    bucket: 'easytdv-123456789012-eu-west-3',
    region: 'eu-west-3',
    key: '0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d',
    requirements: 'requests==2.32.3',
    python: '3.11.9',
    arch: 'x86_64',
    image: 'ami-0a1b2c3d4e5f67890',
    installer: 'uv 0.4.18',
    created: '2025-12-30T08:00:00Z',
    sizeBytes: 412_000,
    usdPerMonth: (412_000 / 1e9) * 0.023,
  },
];

/**
 * The project and data files kept in each run bucket (easytdv/blobs/<sha256>), as list_stored_files answers: S3
 * Standard at $0.023/GB-month.
 */
export const STORED_FILES: StoredFiles[] = [
  {
    bucket: 'easytdv-123456789012-eu-west-3',
    region: 'eu-west-3',
    count: 214,
    sizeBytes: 5_368_709_120,
    newest: '2026-11-22T09:01:30Z',
    usdPerMonth: (5_368_709_120 / 1e9) * 0.023,
  },
  {
    bucket: 'easytdv-123456789012-us-east-1',
    region: 'us-east-1',
    count: 3,
    sizeBytes: 12_288,
    newest: '2026-10-02T16:58:00Z',
    usdPerMonth: (12_288 / 1e9) * 0.023,
  },
];

/** The wizard's region made ready ahead of the first run (its bucket and easyTDV's shared resources). */
export const REGION_READY = {
  region: 'eu-west-3',
  bucket: 'easytdv-123456789012-eu-west-3',
  bucketCreated: false,
  baseVersion: '5f0c2a91d3e4',
};

/** Everything a signed-in user with one account needs. */
export function signedIn(extra: Partial<MockResults> = {}): Partial<MockResults> {
  return {
    list_accounts: [KEYS_ACCOUNT],
    policy_documents: [],
    list_regions: REGIONS,
    list_account_regions: ACCOUNT_REGIONS,
    list_runs: [],
    detect_profiles: [],
    list_instance_types: INSTANCE_TYPES,
    list_training_types: TRAINING_TYPES,
    resolve_ami: AMI,
    list_buckets: ['marie-datasets', 'easytdv-123456789012-eu-west-3-old'],
    suggest_bucket_name: 'easytdv-123456789012-eu-west-3',
    prepare_region: REGION_READY,
    pick_script: SCRIPT,
    pick_requirements: REQUIREMENTS,
    project_summary: PROJECT_NO_REQUIREMENTS,
    start_run: RUN_ID,
    run_live_status: LIVE_RUNNING,
    price_quote: QUOTE,
    list_sweeps: [],
    spot_prices: SPOT_PRICES,
    month_costs: MONTH_COSTS,
    find_leftovers: { leftovers: [], failures: [] },
    delete_leftover: null,
    list_environments: [],
    delete_environment: null,
    warm_machines: [],
    list_stored_files: [],
    delete_stored_files: { bucket: '', region: '', deleted: 0, kept: 0, bytesFreed: 0 },
    list_secrets: [],
    default_sandbox_endpoint: 'http://127.0.0.1:4566',
    app_info: { name: 'easyTDV', version: '0.1.0', notice: null, logDir: '/home/marie/.local/share/easytdv/logs' },
    ...extra,
  };
}
