// Run timeline: folds the progress events of a run into one row per step.

export const RUN_STEPS = ['prepare', 'stack', 'instance', 'requirements', 'training', 'outputs'] as const;
export type StepName = (typeof RUN_STEPS)[number] | 'delete';
export type StepState = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

export const STEP_LABELS: Record<string, { title: string; help: string }> = {
  prepare: { title: 'Upload your files', help: 'Your script and requirements go to your S3 bucket.' },
  stack: { title: 'Create the cloud resources', help: 'A CloudFormation stack creates roles, a security group and a small launcher function.' },
  instance: { title: 'Start the machine', help: 'The EC2 machine boots and connects back (usually 1–3 minutes).' },
  requirements: { title: 'Install your packages', help: 'pip installs what requirements.txt lists.' },
  training: { title: 'Run your training script', help: 'train.py runs on the machine.' },
  outputs: { title: 'Save the outputs', help: 'Files written to OUTPUT_DIR are copied to your bucket.' },
  delete: { title: 'Delete the resources', help: 'The machine, the stack and the uploaded inputs are removed.' },
};

export interface EventLike {
  step: string;
  state: 'running' | 'done' | 'failed' | 'skipped';
  elapsedMs: number;
  message: string;
  detail: string | null;
}

export interface StepRow {
  step: string;
  state: StepState;
  elapsedMs: number | null;
  message: string;
  detail: string | null;
}

export function emptyTimeline(steps: readonly string[] = RUN_STEPS): StepRow[] {
  return steps.map((step) => ({ step, state: 'pending', elapsedMs: null, message: '', detail: null }));
}

/** Apply one event. Unknown steps (e.g. "delete") are appended in arrival order. */
export function applyEvent(rows: readonly StepRow[], ev: EventLike): StepRow[] {
  const out = rows.map((r) => ({ ...r }));
  let row = out.find((r) => r.step === ev.step);
  if (!row) {
    row = { step: ev.step, state: 'pending', elapsedMs: null, message: '', detail: null };
    out.push(row);
  }
  row.state = ev.state;
  row.elapsedMs = ev.elapsedMs;
  if (ev.message) row.message = ev.message;
  if (ev.detail !== null && ev.detail !== '') row.detail = ev.detail;
  return out;
}

export type Overall = 'idle' | 'running' | 'failed' | 'succeeded';

export function overallState(rows: readonly StepRow[]): Overall {
  const main = rows.filter((r) => r.step !== 'delete');
  if (main.some((r) => r.state === 'failed')) return 'failed';
  if (main.length > 0 && main.every((r) => r.state === 'done' || r.state === 'skipped')) return 'succeeded';
  if (rows.some((r) => r.state !== 'pending')) return 'running';
  return 'idle';
}

export function failedStep(rows: readonly StepRow[]): StepRow | null {
  return rows.find((r) => r.state === 'failed' && r.step !== 'delete') ?? null;
}
