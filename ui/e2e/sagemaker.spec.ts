// The SageMaker engine: the wizard's choice, its machines and quote, the launch request; a SageMaker
// run's page (its training job, one machine's log lines, what spot saved); its leftovers and clean-up.
import type { Page } from '@playwright/test';
import {
  ACCOUNT_REGIONS,
  DELETE_REPORT,
  KEYS_ACCOUNT,
  LIVE_GONE,
  LIVE_RUNNING,
  REQUEST,
  REQUIREMENTS,
  RUN_ID,
  SCRIPT,
  deleteEvents,
  runEvents,
  runRecord,
  signedIn,
} from './data';
import { expect, scenario, test, pickCode } from './fixtures';
import type { Leftover, LogLine, RunRecord } from './wire';

const JOB = `easytdv-${RUN_ID}`;

async function toMachineStep(page: Page) {
  await pickCode(page);
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByRole('heading', { name: 'Machine', exact: true })).toBeVisible();
}

test("SageMaker: a region without AWS's PyTorch training container is not offered, and is let go of when SageMaker is chosen", async ({
  page,
  app,
}) => {
  // A region AWS lists for the account that has no published image (one too new for the app's table).
  const newRegion = { code: 'ap-east-9', name: 'ap-east-9', optIn: true, sageMaker: false };
  await app.open(scenario({ results: signedIn({ list_account_regions: [...ACCOUNT_REGIONS, newRegion] }) }), '#/new');
  await toMachineStep(page);
  const region = page.getByLabel('Region');
  await expect(region.locator('option', { hasText: 'ap-east-9' })).toHaveCount(1);
  await region.selectOption('ap-east-9');
  await expect(region).toHaveValue('ap-east-9');

  await page.getByRole('radio', { name: 'Managed training (SageMaker)' }).check();
  await expect(region.locator('option:not([disabled])')).toHaveText(ACCOUNT_REGIONS.map((r) => `${r.name} — ${r.code}`));
  await expect(region).toHaveValue('');
  await expect(page.getByText('SageMaker is offered in the regions where AWS publishes its PyTorch training container.')).toBeVisible();
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByText('Choose a region (where the machine runs).')).toBeVisible();
  await region.selectOption('eu-west-3');
  await expect(page.getByRole('radio', { name: /ml\.m5\.xlarge/ })).toBeChecked();

  // EC2 runs may use it.
  await page.getByRole('radio', { name: 'One machine (EC2)' }).check();
  await expect(region.locator('option', { hasText: 'ap-east-9' })).toHaveCount(1);
});

test('SageMaker: choose it, 2 × ml.g5.xlarge on spot; the review shows the machines and the quote; the launch asks for it', async ({
  page,
  app,
}) => {
  await app.open(scenario({ results: signedIn(), streams: { start_run: runEvents() } }), '#/new');
  await toMachineStep(page);
  // EC2 is the default, with its own options.
  await expect(page.getByRole('radio', { name: 'One machine (EC2)' })).toBeChecked();
  await expect(page.getByLabel('Disk size (GiB)')).toBeVisible();
  await expect(page.getByRole('radio', { name: /t3\.medium/ })).toBeChecked();

  await page.getByRole('radio', { name: 'Managed training (SageMaker)' }).check();
  await expect(page.getByTestId('engine-sagemaker')).toContainText('wires them together for distributed PyTorch');
  // SageMaker's types, recommended first, with their price per machine; the first recommended one is chosen.
  await expect(page.getByRole('radio', { name: /ml\.m5\.xlarge/ })).toBeChecked();
  await expect(page.getByRole('group', { name: /^Recommended/ })).toContainText('ml.g5.xlarge');
  await expect(page.getByRole('radio', { name: /t3\.medium/ })).toHaveCount(0);
  await expect(page.getByText('Prices are per machine and per hour of training')).toBeVisible();
  // EC2-only options are gone.
  await expect(page.getByLabel('Disk size (GiB)')).toHaveCount(0);
  await expect(page.getByText('Machine image (operating system)')).toHaveCount(0);
  await expect(page.getByTestId('spot-prices')).toHaveCount(0);
  expect((await app.calls('list_training_types'))[0]?.args).toEqual({ accountId: KEYS_ACCOUNT.id, region: 'eu-west-3' });

  await page.getByRole('radio', { name: /ml\.g5\.xlarge/ }).check();
  await expect(page.getByTestId('selected-type')).toContainText('ml.g5.xlarge — 4 vCPU · 16 GiB memory · 1 × NVIDIA A10G · $1.41/h');
  await page.getByLabel('Number of machines').fill('2');
  await expect(page.getByTestId('machines-price')).toHaveText('2 × $1.41/h = $2.82/h for the 2 machines');
  await page.getByLabel('Use spot capacity (cheaper, may be interrupted; resumes from checkpoints)').check();
  await expect(page.getByText('EASYTDV_CHECKPOINT_DIR')).toBeVisible();
  await app.shot('sagemaker-machine');

  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByRole('heading', { name: 'Storage' })).toBeVisible();
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByRole('heading', { name: 'Review and launch' })).toBeVisible();
  await expect(page.getByTestId('review-engine')).toContainText('Managed training (SageMaker)');
  await expect(page.getByTestId('review-machine')).toContainText('2 machines × ml.g5.xlarge');
  await expect(page.getByTestId('review-spot')).toContainText('Yes');
  // $1.408 per machine × 2, until the 24 h safety stop.
  await expect(page.getByTestId('quote')).toHaveText(
    'About $2.82 per hour for 2 machines; at most $67.58 if they run until the safety stop (24 h).',
  );
  await expect(page.getByTestId('cost-card')).toContainText('All 2 machines together');
  const created = page.getByRole('region', { name: /What will be created/ });
  await expect(created).toContainText('A SageMaker training job — 2 × ml.g5.xlarge machines on spot capacity');
  await expect(created).not.toContainText('EC2 instance');
  expect((await app.calls('training_quote')).at(-1)?.args).toEqual({
    accountId: KEYS_ACCOUNT.id,
    region: 'eu-west-3',
    trainingType: 'ml.g5.xlarge',
    machines: 2,
    maxRuntimeHours: 24,
    budgetUsd: null,
  });
  // A budget cap applies to all the machines together.
  await page.getByLabel('Budget cap ($, optional)').fill('10');
  await expect(page.getByTestId('quote')).toContainText('at most $10.00');
  await page.getByLabel('Budget cap ($, optional)').fill('');
  await expect(page.getByTestId('quote')).toContainText('at most $67.58');
  await app.shot('sagemaker-review');
  // Nothing asked about EC2 for the ml.* type.
  expect(await app.calls('price_quote')).toHaveLength(0);
  for (const cmd of ['resolve_ami', 'spot_prices'] as const)
    for (const c of await app.calls(cmd)) expect(String(c.args.instanceType)).not.toMatch(/^ml\./);

  await page.getByRole('button', { name: 'Launch training' }).click();
  await expect(page).toHaveURL(new RegExp(`#/runs/${RUN_ID}$`));
  expect((await app.calls('start_run'))[0]?.args).toEqual({
    accountId: KEYS_ACCOUNT.id,
    request: {
      scriptPath: SCRIPT.path,
      requirementsPath: REQUIREMENTS.path,
      instanceType: 'ml.g5.xlarge',
      diskGb: 30,
      region: 'eu-west-3',
      bucket: 'easytdv-123456789012-eu-west-3',
      ami: null,
      maxRuntimeHours: 24,
      budgetUsd: null,
      engine: { kind: 'sageMaker', instanceCount: 2, spot: true },
    },
    onEvent: expect.stringMatching(/^channel:/),
  });
});

test('SageMaker: a wrong number of machines says what to enter and keeps the user on the step', async ({ page, app }) => {
  await app.open(scenario({ results: signedIn() }), '#/new');
  await toMachineStep(page);
  await page.getByRole('radio', { name: 'Managed training (SageMaker)' }).check();
  const count = page.getByLabel('Number of machines');
  await expect(count).toHaveValue('1');
  const next = page.getByRole('button', { name: 'Next' });
  for (const [value, message] of [
    ['0', 'At least 1 machine.'],
    ['17', 'At most 16 machines for one training job.'],
    ['', 'Enter a number of machines, e.g. 1.'],
  ] as const) {
    await count.fill(value);
    await next.click();
    await expect(page.locator('#m-machines-error')).toHaveText(message);
    await expect(count).toHaveAttribute('aria-invalid', 'true');
    await expect(page.getByRole('heading', { name: 'Machine', exact: true })).toBeVisible();
  }
  await app.shot('sagemaker-machine-count-error');
  await count.fill('3');
  await next.click();
  await expect(page.getByRole('heading', { name: 'Storage' })).toBeVisible();
});

test('SageMaker: back to EC2 brings back its machine and options; the request is the EC2 one', async ({ page, app }) => {
  await app.open(scenario({ results: signedIn() }), '#/new');
  await toMachineStep(page);
  await page.getByRole('radio', { name: 'Managed training (SageMaker)' }).check();
  await page.getByRole('radio', { name: /ml\.g5\.xlarge/ }).check();
  await page.getByRole('radio', { name: 'One machine (EC2)' }).check();
  await expect(page.getByRole('radio', { name: /t3\.medium/ })).toBeChecked();
  await expect(page.getByLabel('Disk size (GiB)')).toHaveValue('30');
  // And SageMaker again keeps what was chosen there, without asking AWS again.
  await page.getByRole('radio', { name: 'Managed training (SageMaker)' }).check();
  await expect(page.getByRole('radio', { name: /ml\.g5\.xlarge/ })).toBeChecked();
  expect(await app.calls('list_training_types')).toHaveLength(1);
});

const SM_REQUEST: NonNullable<RunRecord['request']> = {
  ...REQUEST,
  instanceType: 'ml.g5.xlarge',
  engine: { kind: 'sageMaker', instanceCount: 2, spot: true },
};

function smRecord(outcome: RunRecord['outcome'], extra: Partial<RunRecord> = {}): RunRecord {
  const base = runRecord(outcome, extra);
  return {
    ...base,
    request: SM_REQUEST,
    resources: { ...base.resources, instanceId: null, imageId: null, zone: null, trainingJobName: JOB, machines: 2, usdPerHour: 1.408 },
    ...extra,
  };
}

const at = (i: number) => Date.UTC(2026, 10, 26, 14, 40, 0) + i * 1000;
const TRAIN_LOG: LogLine[] = [
  'epoch 1 loss 0.50',
  '[algo-2] epoch 1 loss 0.52',
  'epoch 2 loss 0.30',
  '[algo-2] epoch 2 loss 0.31',
  '[algo-2] saved checkpoint',
  'epoch 3 loss 0.10',
].map((text, i) => ({ atMs: at(i), stream: 'out', text }));

test('SageMaker run: the training job is named, the log shows one machine at a time, spot savings are shown', async ({ page, app }) => {
  const record = smRecord('succeeded', {
    cost: { usd: 3.4, usdPerHour: 2.816, hours: 1.2, growing: false, spotSavedUsd: 6.75 },
  });
  await app.open(
    scenario({
      results: signedIn({ list_runs: [record], run_live_status: LIVE_GONE, run_metrics: [] }),
      logs: { [`${RUN_ID}/train`]: { lines: TRAIN_LOG } },
    }),
    `#/runs/${RUN_ID}`,
  );
  await expect(page.getByTestId('training-job')).toHaveText(`SageMaker training job ${JOB}`);
  await expect(page.locator('.meta')).toContainText('2 machines × ml.g5.xlarge (spot)');
  await expect(page.getByTestId('spot-saved')).toHaveText('Spot saved $6.75 against the regular price.');
  // SageMaker starts the machines and installs the packages itself: those steps are skipped.
  for (const step of ['instance', 'requirements'])
    await expect(page.locator(`[data-step="${step}"]`)).toHaveAttribute('data-state', 'skipped');
  await expect(page.locator('[data-step="instance"]')).toContainText('SageMaker starts the machines itself.');
  await expect(page.getByTestId('log-panel').getByRole('tab', { name: /Training/ })).toHaveAttribute('aria-selected', 'true');

  const panel = page.getByTestId('log-panel');
  const lines = panel.getByTestId('log-viewport').locator('.line .text');
  await expect(lines).toHaveCount(TRAIN_LOG.length);
  const select = panel.getByLabel('Machine', { exact: true });
  await expect(select.locator('option')).toHaveText(['All machines', 'Machine 1', 'Machine 2']);
  await select.selectOption({ label: 'Machine 2' });
  await expect(lines).toHaveText(['epoch 1 loss 0.52', 'epoch 2 loss 0.31', 'saved checkpoint']);
  // Their line numbers are the log's own.
  expect(await panel.locator('.line').evaluateAll((els) => els.map((e) => e.getAttribute('data-line')))).toEqual(['2', '4', '5']);
  await expect(panel.getByTestId('log-range')).toContainText('lines 1–3 of 3 from machine 2');
  await app.shot('sagemaker-run-log-machine-2');
  await select.selectOption({ label: 'Machine 1' });
  await expect(lines).toHaveText(['epoch 1 loss 0.50', 'epoch 2 loss 0.30', 'epoch 3 loss 0.10']);
  // Search stays within the machine shown.
  await panel.getByLabel('Search the log').fill('epoch 2');
  await panel.getByLabel('Search the log').press('Enter');
  await expect(panel.getByTestId('log-status')).toHaveText('Line 3');
  await select.selectOption({ label: 'All machines' });
  await expect(lines).toHaveText(TRAIN_LOG.map((l) => l.text));
});

test('an EC2 run has no machine selector in its log', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn({ list_runs: [runRecord('succeeded')], run_live_status: LIVE_GONE, run_metrics: [] }),
      logs: { [`${RUN_ID}/train`]: { lines: TRAIN_LOG.filter((l) => !l.text.startsWith('[')) } },
    }),
    `#/runs/${RUN_ID}`,
  );
  await expect(page.getByTestId('log-viewport').locator('.line')).toHaveCount(3);
  await expect(page.getByTestId('log-machine')).toHaveCount(0);
  await expect(page.getByTestId('training-job')).toHaveCount(0);
});

test('SageMaker run: deleting its resources says the training job was stopped', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn({
        list_runs: [smRecord('failed', { lastStep: 'training', message: 'train.py stopped with an error (exit code 1).' })],
        run_live_status: LIVE_RUNNING,
        delete_run: { ...DELETE_REPORT, stoppedTrainingJob: JOB, terminatedInstances: [] },
      }),
      streams: { delete_run: deleteEvents() },
      thenStreamed: { delete_run: { run_live_status: LIVE_GONE } },
    }),
    `#/runs/${RUN_ID}`,
  );
  await page.getByTestId('failure').getByRole('button', { name: 'Delete resources' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete resources' }).click();
  await expect(page.getByTestId('deleted')).toContainText(`Stopped the training job ${JOB}`);
  await expect(page.getByTestId('deleted')).not.toContainText('the machine i-');
});

test('Forgotten resources: a SageMaker training job still running is named so', async ({ page, app }) => {
  const job: Leftover = {
    kind: 'trainingJob',
    region: 'eu-west-3',
    id: 'easytdv-20261020-091500-ffee01',
    runId: '20261020-091500-ffee01',
    usdPerHour: 2.816,
    detail: '2 × ml.g5.xlarge, training',
    bucket: null,
  };
  await app.open(
    scenario({
      results: signedIn({
        list_runs: [runRecord('succeeded')],
        run_live_status: LIVE_GONE,
        find_leftovers: { leftovers: [job], failures: [] },
      }),
    }),
  );
  await page.getByRole('button', { name: 'Check now' }).click();
  await expect(page.getByTestId('leftover-row')).toContainText('SageMaker training job still running');
});

test('SageMaker run: one machine of a long log is indexed once and scrolls like the whole log', async ({ page, app }) => {
  // 30,000 lines from 3 machines in turn: machine 3 printed every third line.
  const N = 30_000;
  const long: LogLine[] = Array.from({ length: N }, (_, i) => {
    const m = (i % 3) + 1;
    return { atMs: at(i), stream: 'out', text: `${m === 1 ? '' : `[algo-${m}] `}step ${Math.floor(i / 3) + 1} of machine ${m}` };
  });
  const record = smRecord('succeeded', { request: { ...SM_REQUEST, engine: { kind: 'sageMaker', instanceCount: 3, spot: false } } });
  await app.open(
    scenario({
      results: signedIn({ list_runs: [record], run_live_status: LIVE_GONE, run_metrics: [] }),
      logs: { [`${RUN_ID}/train`]: { lines: long } },
    }),
    `#/runs/${RUN_ID}`,
  );
  const panel = page.getByTestId('log-panel');
  const viewport = panel.getByTestId('log-viewport');
  await expect(viewport.locator('.line').last()).toContainText(`step ${N / 3} of machine 3`);
  await panel.getByLabel('Machine', { exact: true }).selectOption({ label: 'Machine 3' });
  await expect(panel.getByTestId('log-range')).toContainText(`of ${(N / 3).toLocaleString('en-US')} from machine 3`);
  await expect(viewport.locator('.line').last()).toHaveText(new RegExp(`${N}.*step ${N / 3} of machine 3$`));
  await expect(viewport.locator('.line .text').filter({ hasText: 'algo' })).toHaveCount(0);
  await viewport.press('Home');
  await expect(viewport.locator('.line .text').first()).toHaveText('step 1 of machine 3');
  expect(await viewport.locator('.line').first().getAttribute('data-line')).toBe('3');
  // Read once: 30,000 lines in a few reads of 5,000, plus the chunks on screen.
  const reads = await app.calls('read_log');
  expect(reads.filter((c) => c.args.count === 5000).length).toBeLessThanOrEqual(7);
  expect(await viewport.locator('.line').count()).toBeLessThan(60);
});
