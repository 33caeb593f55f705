import { describe, expect, it } from 'vitest';
import {
  back,
  canGoTo,
  checkedScriptInputs,
  chosenType,
  dataInProject,
  dataSourceOf,
  goTo,
  initialWizard,
  launchFields,
  machineCount,
  next,
  scriptInputsKey,
  stepErrors,
  update,
  wizardFromRun,
} from './wizard';

const script = { path: '/home/me/train.py', name: 'train.py' };
const reqs = { path: '/home/me/requirements.txt', name: 'requirements.txt' };

function filled() {
  let s = initialWizard({ accountId: 'acc-1', region: 'eu-west-3', instanceType: 't3.medium' });
  s = update(s, { script, requirements: reqs });
  return s;
}

describe('wizard state machine', () => {
  it('starts on Code and will not advance without files', () => {
    const s = initialWizard();
    expect(s.step).toBe('code');
    const n = next(s);
    expect(n.step).toBe('code');
    expect(n.attempted.code).toBe(true);
    expect(stepErrors(n.data, 'code')).toHaveProperty('script');
    expect(stepErrors(n.data, 'code')).toHaveProperty('requirements');
  });

  it('walks through every step with defaults', () => {
    let s = filled();
    s = next(s);
    expect(s.step).toBe('machine');
    s = next(s);
    expect(s.step).toBe('storage');
    s = next(s);
    expect(s.step).toBe('storage');
    expect(stepErrors(s.data, 'storage').newBucket).toMatch(/Enter a bucket name/);
    s = update(s, { newBucket: 'easytdv-123-eu-west-3' });
    s = next(s);
    expect(s.step).toBe('review');
    expect(s.furthest).toBe('review');
    expect(launchFields(s.data)).toEqual({
      accountId: 'acc-1',
      request: {
        region: 'eu-west-3',
        scriptPath: script.path,
        requirementsPath: reqs.path,
        instanceType: 't3.medium',
        diskGb: 30,
        ami: null,
        bucket: 'easytdv-123-eu-west-3',
        maxRuntimeHours: 24,
        budgetUsd: null,
      },
    });
    // A budget cap goes into the request; a bad one is an error on Review.
    s = update(s, { budgetUsd: '5' });
    expect(launchFields(s.data)?.request.budgetUsd).toBe(5);
    s = update(s, { budgetUsd: '-1' });
    expect(stepErrors(s.data, 'review').budgetUsd).toMatch(/dollars/);
    expect(launchFields(s.data)).toBeNull();
  });

  it('sends the chosen secrets by name, on both engines', () => {
    let s = update(filled(), { newBucket: 'easytdv-123-eu-west-3', secrets: ['HF_TOKEN', 'WANDB_API_KEY'] });
    expect(launchFields(s.data)?.request.secrets).toEqual(['HF_TOKEN', 'WANDB_API_KEY']);
    s = update(s, { engine: 'sageMaker', trainingType: 'ml.m5.large' });
    expect(stepErrors(s.data, 'review').secrets).toBeUndefined();
    expect(launchFields(s.data)?.request.secrets).toEqual(['HF_TOKEN', 'WANDB_API_KEY']);
    s = update(s, { secrets: [] });
    expect(launchFields(s.data)?.request).not.toHaveProperty('secrets');
    s = update(s, { engine: 'ec2', secrets: Array.from({ length: 21 }, (_, i) => `S${i}`) });
    expect(stepErrors(s.data, 'review').secrets).toMatch(/at most 20 secrets/);
    expect(launchFields(s.data)).toBeNull();
  });

  it('validates machine fields', () => {
    let s = next(filled());
    s = update(s, { diskGb: 4, amiMode: 'custom', customAmi: 'nope', maxRuntimeHours: 0 });
    const e = stepErrors(s.data, 'machine');
    expect(e.maxRuntimeHours).toMatch(/At least 1 hour/);
    expect(e.diskGb).toMatch(/at least 8/);
    expect(e.customAmi).toMatch(/ami-/);
    expect(next(s).step).toBe('machine');
  });

  it('uses an existing bucket when chosen', () => {
    let s = next(next(filled()));
    s = update(s, { bucketMode: 'existing' });
    expect(stepErrors(s.data, 'storage').bucket).toMatch(/Choose one of your buckets/);
    s = update(s, { existingBucket: 'my-data' });
    s = next(s);
    expect(launchFields(s.data)?.request.bucket).toBe('my-data');
  });

  it('goes back, and jumps only to reachable steps', () => {
    let s = filled();
    expect(canGoTo(s, 'storage')).toBe(false);
    s = next(next(s));
    expect(s.step).toBe('storage');
    s = back(s);
    expect(s.step).toBe('machine');
    expect(canGoTo(s, 'storage')).toBe(true);
    expect(goTo(s, 'review').step).toBe('machine');
    s = goTo(s, 'code');
    expect(s.step).toBe('code');
  });

  it('caps progress when an earlier step becomes invalid', () => {
    let s = update(next(next(filled())), { newBucket: 'ok-bucket' });
    s = next(s);
    expect(s.furthest).toBe('review');
    s = goTo(s, 'code');
    s = update(s, { script: null });
    expect(canGoTo(s, 'review')).toBe(false);
    expect(launchFields(s.data)).toBeNull();
  });

  it('SageMaker: an ml.* type, 1–16 machines, spot; the request says so, without an image', () => {
    let s = next(filled());
    s = update(s, { engine: 'sageMaker', amiMode: 'custom', customAmi: 'nope' });
    expect(stepErrors(s.data, 'machine').instanceType).toMatch(/Choose a machine type/);
    // The EC2 image is not used: its errors do not count.
    expect(stepErrors(s.data, 'machine').customAmi).toBeUndefined();
    s = update(s, { trainingType: 'ml.g5.xlarge', machines: '0' });
    expect(stepErrors(s.data, 'machine').machines).toMatch(/At least 1 machine/);
    s = update(s, { machines: '17' });
    expect(stepErrors(s.data, 'machine').machines).toMatch(/At most 16 machines/);
    expect(next(s).step).toBe('machine');
    s = update(s, { machines: '2', spot: true, newBucket: 'easytdv-123-eu-west-3' });
    s = next(next(s));
    expect(s.step).toBe('review');
    expect(chosenType(s.data)).toBe('ml.g5.xlarge');
    expect(machineCount(s.data)).toBe(2);
    expect(launchFields(s.data)?.request).toMatchObject({
      instanceType: 'ml.g5.xlarge',
      ami: null,
      engine: { kind: 'sageMaker', instanceCount: 2, spot: true },
    });
    // Back to EC2: its own type again, and no engine in the request (the default).
    s = update(s, { engine: 'ec2', amiMode: 'auto' });
    expect(launchFields(s.data)?.request.instanceType).toBe('t3.medium');
    expect(launchFields(s.data)?.request).not.toHaveProperty('engine');
    expect(machineCount(s.data)).toBe(1);
  });

  it("carries the project folder the user chose, and none for the script's own folder", () => {
    let s = update(filled(), { newBucket: 'easytdv-123-eu-west-3' });
    expect(launchFields(s.data)?.request).not.toHaveProperty('projectDir');
    s = update(s, { projectDir: '/home/me' });
    expect(launchFields(s.data)?.request.projectDir).toBe('/home/me');
  });
});

describe('arguments and variables', () => {
  function atReview() {
    let s = filled();
    s = update(s, { newBucket: 'my-bucket' });
    return next(next(next(s)));
  }

  it('sends them only once the backend has checked these very fields', () => {
    let s = atReview();
    expect(s.step).toBe('review');
    // Nothing typed: nothing to check, nothing sent.
    expect(launchFields(s.data)?.request).not.toHaveProperty('args');
    s = update(s, { argsText: "--epochs 3 --name 'my run'", envText: 'WANDB_PROJECT=digits' });
    expect(checkedScriptInputs(s.data)).toBeNull();
    expect(launchFields(s.data)).toBeNull();
    const inputs = { args: ['--epochs', '3', '--name', 'my run'], env: [{ name: 'WANDB_PROJECT', value: 'digits' }] };
    s = update(s, { scriptInputs: inputs, scriptInputsError: null, scriptInputsFor: scriptInputsKey(s.data) });
    expect(launchFields(s.data)?.request).toMatchObject({ args: inputs.args, argsText: "--epochs 3 --name 'my run'", env: inputs.env });
    // Typed again: the old answer no longer counts.
    s = update(s, { argsText: '--epochs 4' });
    expect(launchFields(s.data)).toBeNull();
    // A refusal blocks the launch and says why.
    s = update(s, {
      scriptInputs: null,
      scriptInputsError: { field: 'args', message: 'The arguments cannot be split: missing closing quote.' },
      scriptInputsFor: scriptInputsKey(s.data),
    });
    expect(stepErrors(s.data, 'review').scriptInputs).toBe('The arguments cannot be split: missing closing quote.');
    expect(launchFields(s.data)).toBeNull();
  });

  it('fills the wizard from a recorded run, at the Review step', () => {
    const request = {
      scriptPath: script.path,
      requirementsPath: reqs.path,
      instanceType: 'ml.g5.xlarge',
      diskGb: 50,
      region: 'eu-west-3',
      bucket: 'my-bucket',
      ami: null,
      maxRuntimeHours: 6,
      budgetUsd: 5,
      engine: { kind: 'sageMaker' as const, instanceCount: 2, spot: true },
      argsText: '--epochs 3',
      env: [
        { name: 'A', value: '1' },
        { name: 'B', value: 'x y' },
      ],
    };
    const s = wizardFromRun('acc-1', request, { script, requirements: reqs });
    expect(s.step).toBe('review');
    expect(s.data).toMatchObject({
      accountId: 'acc-1',
      engine: 'sageMaker',
      trainingType: 'ml.g5.xlarge',
      machines: 2,
      spot: true,
      bucketMode: 'existing',
      existingBucket: 'my-bucket',
      budgetUsd: '5',
      argsText: '--epochs 3',
      envText: 'A=1\nB=x y',
    });
    // A file that is gone: back to the Code step to choose it again.
    expect(wizardFromRun('acc-1', request, { script: null, requirements: reqs }).step).toBe('code');
  });

  it('keeps a recorded run’s project folder and data, and asks again for a data folder that is gone', () => {
    const base = {
      scriptPath: script.path,
      requirementsPath: reqs.path,
      instanceType: 't3.medium',
      diskGb: 30,
      region: 'eu-west-3',
      bucket: 'my-bucket',
      ami: null,
      maxRuntimeHours: 6,
      budgetUsd: null,
      projectDir: '/home/me',
    };
    const folder = { ...base, data: { kind: 'folder' as const, path: '/data/points' } };
    const kept = wizardFromRun('acc-1', folder, { script, requirements: reqs, dataFolder: { ...POINTS, path: '/data/points' } });
    expect(kept.step).toBe('review');
    expect(kept.data.projectDir).toBe('/home/me');
    expect(launchFields(kept.data)?.request).toMatchObject({ projectDir: '/home/me', data: { kind: 'folder', path: '/data/points' } });
    const lost = wizardFromRun('acc-1', folder, { script, requirements: reqs, dataFolder: null });
    expect(lost.step).toBe('code');
    expect(stepErrors(lost.data, 'code').data).toMatch(/\/data\/points is gone or empty/);
    expect(launchFields(lost.data)).toBeNull();
    const s3 = wizardFromRun('acc-1', { ...base, data: { kind: 's3', url: 's3://d/p/' } }, { script, requirements: reqs });
    expect(s3.step).toBe('review');
    expect(launchFields(s3.data)?.request.data).toEqual({ kind: 's3', url: 's3://d/p/' });
  });
});

const POINTS = {
  path: '/home/me/data',
  fileCount: 2,
  totalBytes: 1_203_000,
  headline: '2 files, 1.2 MB',
  largest: [{ path: 'points.csv', sizeBytes: 1_200_000, size: '1.2 MB' }],
  notes: [],
  neverSent: [],
};

describe('the run’s data', () => {
  function ready() {
    return update(filled(), { newBucket: 'easytdv-123-eu-west-3' });
  }

  it('sends no data by default', () => {
    const s = ready();
    expect(dataSourceOf(s.data)).toBeNull();
    expect(launchFields(s.data)?.request).not.toHaveProperty('data');
  });

  it('sends a chosen data folder, and asks for one when the folder way is picked but none chosen', () => {
    let s = update(ready(), { dataMode: 'folder' });
    expect(stepErrors(s.data, 'code').data).toBe('Choose the data folder, or remove the data.');
    expect(next(s).step).toBe('code');
    expect(launchFields(s.data)).toBeNull();
    s = update(s, { dataFolder: POINTS });
    expect(stepErrors(s.data, 'code')).toEqual({});
    expect(launchFields(s.data)?.request.data).toEqual({ kind: 'folder', path: '/home/me/data' });
  });

  it('sends an S3 location only as the backend wrote it, for the text it checked', () => {
    let s = update(ready(), { dataMode: 's3' });
    expect(stepErrors(s.data, 'code').data).toMatch(/Type the S3 location/);
    s = update(s, { dataUrlText: 's3://My_Data/x' });
    expect(stepErrors(s.data, 'code').data).toBe('Checking the S3 location…');
    s = update(s, { dataUrl: null, dataUrlError: 'Not an S3 location.', dataUrlFor: 's3://My_Data/x' });
    expect(stepErrors(s.data, 'code').data).toBe('Not an S3 location.');
    expect(launchFields(s.data)).toBeNull();
    s = update(s, { dataUrlText: 's3://my-data/x' });
    // The old answer is for other text: not used.
    expect(stepErrors(s.data, 'code').data).toBe('Checking the S3 location…');
    s = update(s, { dataUrl: 's3://my-data/x/', dataUrlError: null, dataUrlFor: 's3://my-data/x' });
    expect(stepErrors(s.data, 'code')).toEqual({});
    expect(launchFields(s.data)?.request.data).toEqual({ kind: 's3', url: 's3://my-data/x/' });
  });

  it('lets a SageMaker run take a data folder, and an S3 location only under easytdv/, with a way out', () => {
    let s = update(ready(), { dataMode: 'folder', dataFolder: POINTS, engine: 'sageMaker', trainingType: 'ml.m5.large' });
    expect(stepErrors(s.data, 'review')).not.toHaveProperty('data');
    expect(launchFields(s.data)?.request.data).toEqual({ kind: 'folder', path: POINTS.path });
    const at = (url: string) => ({
      dataMode: 's3' as const,
      dataFolder: null,
      dataUrlText: url,
      dataUrl: url,
      dataUrlError: null,
      dataUrlFor: url,
    });
    s = update(s, at('s3://lake/datasets/points/'));
    expect(stepErrors(s.data, 'review').data).toMatch(/only under easytdv\/.*One machine \(EC2\)/);
    expect(launchFields(s.data)).toBeNull();
    s = update(s, at('s3://lake/easytdv/datasets/points/'));
    expect(stepErrors(s.data, 'review')).not.toHaveProperty('data');
    s = update(s, at('s3://lake/easytdv/data*/'));
    expect(stepErrors(s.data, 'review')).toHaveProperty('data');
    // Never easyTDV's own folders; a run's outputs may be the next run's data.
    for (const own of ['s3://lake/easytdv/blobs/', 's3://lake/easytdv/cache/', 's3://lake/easytdv/runs/r1/']) {
      s = update(s, at(own));
      expect(stepErrors(s.data, 'review'), own).toHaveProperty('data');
    }
    s = update(s, at('s3://lake/easytdv/runs/r1/outputs/'));
    expect(stepErrors(s.data, 'review')).not.toHaveProperty('data');
    // EC2 reads any location the keys may read.
    s = update(s, { ...at('s3://lake/datasets/points/'), engine: 'ec2' });
    expect(stepErrors(s.data, 'review')).not.toHaveProperty('data');
  });

  it('knows when the data folder is inside the project', () => {
    expect(dataInProject('/home/me/proj/data/points', '/home/me/proj')).toBe('data/points');
    expect(dataInProject('/home/me/proj/data', '/home/me/proj/')).toBe('data');
    expect(dataInProject('/home/me/project2/data', '/home/me/proj')).toBeNull();
    expect(dataInProject('/home/me/proj', '/home/me/proj')).toBeNull();
    expect(dataInProject('/data', null)).toBeNull();
    expect(dataInProject('C:\\me\\proj\\data', 'C:\\me\\proj')).toBe('data');
  });
});
