import {
  IDENTITY,
  INSTANCE_TYPES,
  KEYS_ACCOUNT,
  LIVE_GONE,
  LIVE_RUNNING,
  RUN_ID,
  FAILURES,
  OUTPUTS_URI,
  runRecord,
  signedIn,
  SANDBOX_ACCOUNT,
} from './data';
import { expect, scenario, test, pickCode } from './fixtures';
import type { AccountSetup, LogLine, PolicyDocument, RunSummary } from './wire';

const POLICY = (sid: string, action: string) =>
  JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: sid, Effect: 'Allow', Action: [action], Resource: '*' }] }, null, 2);
const DOCUMENTS: PolicyDocument[] = [
  {
    name: 'easytdv-boundary',
    purpose: 'The most any role easyTDV creates may ever do.',
    attach: false,
    json: POLICY('RunFiles', 's3:GetObject'),
  },
  {
    name: 'easytdv-user-policy',
    purpose: 'What a run changes.',
    attach: true,
    json: POLICY('CreateCloudResources', 'cloudformation:CreateStack'),
  },
  { name: 'easytdv-read-policy', purpose: 'What easyTDV reads.', attach: true, json: POLICY('Prices', 'pricing:GetProducts') },
];

test('setup: "Permissions easyTDV needs" shows the three documents for whoever manages the account, each with Copy', async ({
  page,
  app,
}) => {
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await app.open(scenario({ results: signedIn({ policy_documents: DOCUMENTS }) }), '#/setup');
  await page.getByRole('button', { name: 'Continue' }).click();
  const policy = page.getByTestId('policy').first();
  await expect(policy.getByRole('heading', { name: 'Permissions easyTDV needs' })).toBeVisible();
  await expect(policy).toContainText('customer managed policy');
  await expect(policy).toContainText('not the boundary');
  // The boundary first; it is not attached to anyone.
  await expect(policy.getByRole('tab', { name: '1. easytdv-boundary' })).toHaveAttribute('aria-selected', 'true');
  await expect(policy.getByTestId('policy-text')).toContainText('"s3:GetObject"');
  await expect(policy).not.toContainText('Attach it to your IAM user');
  await policy.getByRole('tab', { name: '2. easytdv-user-policy' }).click();
  await expect(policy.getByTestId('policy-text')).toContainText('"cloudformation:CreateStack"');
  await expect(policy).toContainText('Attach it to your IAM user');
  // The block scrolls by itself and is reachable with the keyboard.
  await expect(policy.getByRole('region', { name: 'The IAM document easytdv-user-policy (JSON)' })).toHaveAttribute('tabindex', '0');
  await policy.getByRole('button', { name: 'Copy easytdv-user-policy' }).click();
  await expect(policy.getByRole('button', { name: 'Copied' })).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(DOCUMENTS[1]!.json);
  await policy.scrollIntoViewIfNeeded();
  await app.shot('60-setup-policy');
});

test('accounts: Replace keys gives a keys account new keys, checked by AWS; its runs stay', async ({ page, app }) => {
  const setup: AccountSetup = {
    account: { ...KEYS_ACCOUNT, maskedKeyId: 'AKIA…NEW1' },
    identity: IDENTITY,
    missingPermissions: [],
    uncheckedPermissions: [],
    permissionCheck: 'simulated',
  };
  await app.open(
    scenario({
      results: signedIn({ list_accounts: [KEYS_ACCOUNT, SANDBOX_ACCOUNT], replace_account_keys: setup }),
      then: { replace_account_keys: { list_accounts: [setup.account, SANDBOX_ACCOUNT] } },
    }),
    '#/accounts',
  );
  // Only keys accounts have it.
  await expect(page.getByRole('button', { name: /Replace keys/ })).toHaveCount(1);
  await page.getByRole('button', { name: 'Replace keys of Work' }).click();
  const form = page.getByTestId('rekey-form');
  await expect(page.getByLabel('New access key ID')).toBeFocused();
  await expect(form).toContainText('the runs of this account stay as they are');
  await form.getByRole('button', { name: 'Check and save the new keys' }).click();
  await expect(form).toContainText('Paste your access key ID');
  await expect(form).toContainText('Paste your secret access key');
  expect(await app.calls('replace_account_keys')).toHaveLength(0);
  await page.getByLabel('New access key ID').fill('AKIAIOSFODNN7NEW1XYZ');
  await page.getByLabel('New secret access key').fill('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
  await app.shot('61-accounts-replace-keys');
  await form.getByRole('button', { name: 'Check and save the new keys' }).click();
  await expect(page.getByRole('status').first()).toContainText('New keys saved for “Work” (AKIA…NEW1). Its runs stay as they were.');
  await expect(form).toHaveCount(0);
  await expect(page.getByTestId('account-row').first()).toContainText('AKIA…NEW1');
  expect((await app.calls('replace_account_keys'))[0]?.args).toEqual({
    id: 'acc-1',
    accessKeyId: 'AKIAIOSFODNN7NEW1XYZ',
    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    sessionToken: null,
  });
});

test('wizard: a quota error says how many vCPUs the account may run, with the link to ask AWS for more', async ({ page, app }) => {
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  const url = 'https://eu-west-3.console.aws.amazon.com/servicequotas/home/services/ec2/quotas/L-DB2E81BA';
  await app.open(
    scenario({
      results: signedIn(),
      errors: {
        start_run: {
          code: 'quota_too_low',
          message: 'Your account can run 0 vCPUs of G machines in eu-west-3; g4dn.xlarge needs 4.',
          hint: `Ask AWS for more here: ${url}. It is free and usually answered within a day; meanwhile, choose a machine without a GPU.`,
        },
      },
    }),
    '#/new',
  );
  await pickCode(page);
  for (let i = 0; i < 3; i++) await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Launch training' }).click();
  const alert = page.getByRole('alert');
  await expect(alert).toHaveAttribute('data-code', 'quota_too_low');
  await expect(alert).toContainText('Your account can run 0 vCPUs of G machines');
  await expect(alert.getByTestId('hint-link')).toHaveText(url); // the full stop after it is not part of it
  await expect(alert).toContainText('Paste the link in your web browser to open it.');
  await alert.getByRole('button', { name: 'Copy link' }).click();
  await expect(alert.getByRole('button', { name: 'Copied' })).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(url);
  await app.shot('62-wizard-quota-error');
});

test('wizard: at most 48 hours, and machine types the automatic image does not suit carry their warning', async ({ page, app }) => {
  const warning = 'AMD GPUs: no automatic image has their drivers. Choose your own image with the AMD drivers, or an NVIDIA machine.';
  await app.open(
    scenario({
      results: signedIn({
        list_instance_types: [
          ...INSTANCE_TYPES,
          {
            name: 'g4ad.xlarge',
            vcpus: 4,
            memoryMib: 16384,
            gpuCount: 1,
            gpuModel: 'AMD Radeon Pro V520',
            arm: false,
            category: 'gpu',
            accelerator: 'amd',
            warning,
            previousGeneration: false,
            usdPerHour: 0.379,
            recommended: null,
          },
        ],
      }),
    }),
    '#/new',
  );
  await pickCode(page);
  await page.getByRole('button', { name: 'Next' }).click();
  const row = page.locator('label.type').filter({ hasText: 'g4ad.xlarge' });
  await expect(row.getByTestId('type-warning')).toHaveText(new RegExp(`^⚠\\s?${warning.replace(/[.()]/g, '\\$&')}$`));
  await expect(page.getByTestId('type-warning')).toHaveCount(1);
  await row.click();
  await expect(page.getByRole('note').filter({ hasText: 'AMD GPUs' })).toBeVisible();
  await row.scrollIntoViewIfNeeded();
  await app.shot('63-wizard-machine-warning');
  await page.getByText('Advanced').click();
  const hours = page.getByLabel('Turn the machine off after at most (hours)');
  await expect(hours).toHaveAttribute('max', '48');
  await expect(page.getByText('AWS runs one command for at most 48 hours.')).toBeVisible();
});

test('home: a notice from the start (a history kept aside) is shown once, until closed', async ({ page, app }) => {
  const notice =
    'The run history could not be read (it was made by a newer easyTDV). It was kept aside as history-2026-12-01.sqlite3 and a new one started.';
  await app.open(scenario({ results: signedIn({ app_info: { name: 'easyTDV', version: '0.1.0', notice, logDir: '/tmp/logs' } }) }));
  await expect(page.getByTestId('app-notice')).toContainText(notice);
  await page.getByRole('button', { name: 'Got it' }).click();
  await expect(page.getByTestId('app-notice')).toHaveCount(0);
  await page.getByRole('link', { name: 'Accounts' }).click();
  await page.getByRole('link', { name: 'Runs', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Runs', exact: true })).toBeVisible();
  await expect(page.getByTestId('app-notice')).toHaveCount(0);
});

const SUMMARY: RunSummary = {
  phases: [
    { log: 'install', name: 'download', seconds: 0.4 },
    { log: 'install', name: 'env', seconds: 2.1 },
    { log: 'install', name: 'install', seconds: 38.6 },
    { log: 'train', name: 'train', seconds: 412.5 },
    { log: 'train', name: 'upload', seconds: 3.2 },
  ],
  python: '3.12.8',
  installer: 'uv 0.9.2',
  environment: 'reused the environment of 2026-12-01 10:20 UTC',
  preinstalled: null,
  shutdownNotice: null,
  keptWarmUntil: null,
  latestLine: 'epoch 10 loss 0.100 accuracy 0.93',
  finalMetrics: { loss: 0.1, accuracy: 0.93 },
};
const lines: LogLine[] = Array.from({ length: 60 }, (_, i) => ({
  atMs: Date.UTC(2026, 10, 26, 14, 36, i),
  stream: 'out',
  text: `epoch ${Math.floor(i / 6) + 1} batch ${(i % 6) + 1} loss ${(1 / (i + 1)).toFixed(3)}`,
}));

test('run view: what the machine reported — Python, packages, zone, the phases and their seconds', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn({
        list_runs: [runRecord('succeeded', { summary: SUMMARY, message: '3 files saved to your bucket', outputsUri: OUTPUTS_URI })],
        run_live_status: LIVE_GONE,
        run_metrics: [
          { name: 'loss', byStep: true, x: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], y: [0.9, 0.6, 0.45, 0.33, 0.25, 0.2, 0.16, 0.13, 0.11, 0.1] },
          {
            name: 'accuracy',
            byStep: true,
            x: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
            y: [0.5, 0.62, 0.7, 0.76, 0.8, 0.84, 0.87, 0.9, 0.92, 0.93],
          },
        ],
      }),
      logs: { [`${RUN_ID}/train`]: { lines } },
    }),
    `#/runs/${RUN_ID}`,
  );
  const report = page.getByTestId('machine-report');
  await expect(report).toContainText(/Python\s*3\.12\.8/);
  await expect(report).toContainText('Reused the environment of 2026-12-01 10:20 UTC');
  await expect(report).toContainText('eu-west-3a');
  await expect(report.getByRole('table', { name: 'How long each part took on the machine' })).toBeVisible();
  await expect(report.getByRole('row', { name: /Install your packages/ })).toContainText('39 s');
  await expect(report.getByRole('row', { name: /Run train.py/ })).toContainText('6 min 53 s');
  await expect(page.getByTestId('chart-loss')).toHaveAttribute('data-points', '10');
  // After the run and its clean-up the log is still there (read_log).
  await expect(page.getByTestId('log-viewport').locator('.line').last()).toContainText('epoch 10 batch 6 loss 0.017');
  await app.shot('57-run-succeeded');
});

test('run view: a first install says so, and its save beside the training is a part of its own', async ({ page, app }) => {
  const first: RunSummary = {
    ...SUMMARY,
    environment: 'first install of these requirements',
    phases: [
      { log: 'install', name: 'download', seconds: 0.4 },
      { log: 'install', name: 'env', seconds: 2.1 },
      { log: 'install', name: 'cache', seconds: 0.2 },
      { log: 'install', name: 'install', seconds: 96.3 },
      { log: 'train', name: 'download', seconds: 0.1 },
      { log: 'train', name: 'cache-save', seconds: 41.7 },
      { log: 'train', name: 'train', seconds: 412.5 },
      { log: 'train', name: 'upload', seconds: 3.2 },
    ],
  };
  await app.open(
    scenario({
      results: signedIn({
        list_runs: [runRecord('succeeded', { summary: first, message: '3 files saved to your bucket', outputsUri: OUTPUTS_URI })],
        run_live_status: LIVE_GONE,
        run_metrics: [],
      }),
      logs: { [`${RUN_ID}/train`]: { lines } },
    }),
    `#/runs/${RUN_ID}`,
  );
  const report = page.getByTestId('machine-report');
  await expect(report).toContainText('First install of these requirements');
  await expect(report.getByRole('row', { name: /Save the environment for next time \(alongside train\.py\)/ })).toContainText('42 s');
  await expect(report.getByRole('row', { name: /Fetch train\.py for the training/ })).toContainText('0.1 s');
  await report.scrollIntoViewIfNeeded();
  await app.shot('57b-run-first-install');
});

test('run view: after a failure, the machine’s own shutdown time is next to the cost warning', async ({ page, app }) => {
  const at = new Date(Date.now() + 60 * 60 * 1000);
  at.setSeconds(0, 0);
  const hhmm = `${String(at.getHours()).padStart(2, '0')}:${String(at.getMinutes()).padStart(2, '0')}`;
  await app.open(
    scenario({
      results: signedIn({
        list_runs: [
          runRecord('failed', {
            lastStep: 'training',
            message: FAILURES.training?.message ?? null,
            detail: FAILURES.training?.detail ?? null,
            summary: { ...SUMMARY, finalMetrics: {}, shutdownNotice: `machine will shut down at ${at.toISOString()} unless you retry` },
          }),
        ],
        run_live_status: LIVE_RUNNING,
      }),
      logs: { [`${RUN_ID}/train`]: { lines } },
    }),
    `#/runs/${RUN_ID}`,
  );
  const warning = page.getByTestId('cost-warning');
  await expect(warning).toContainText('The machine is still running and costs money until you delete the resources.');
  await expect(warning.getByTestId('shutdown-notice')).toHaveText(
    new RegExp(`^This machine shuts itself down at ${hhmm}( on .+)? unless you retry; it costs money until then\\.$`),
  );
  await expect(page.getByTestId('failing-line')).toContainText(
    "train.py line 42: ValueError: Input contains NaN, infinity or a value too large for dtype('float64').",
  );
  await app.shot('58-run-failed-shutdown-notice');
});
