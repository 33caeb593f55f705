import {
  ACCOUNT_REGIONS,
  AMI,
  INSTANCE_TYPES,
  PROFILE_ACCOUNT,
  REGIONS,
  REQUIREMENTS,
  RUN_ID,
  SCRIPT,
  signedIn,
  KEYS_ACCOUNT,
  runEvents,
} from './data';
import type { Page } from '@playwright/test';
import { expect, scenario, test, pickCode } from './fixtures';

test('complete the wizard with the defaults and launch', async ({ page, app }) => {
  // A region used for the first time: its shared resources take a while to be made ahead.
  await app.open(scenario({ results: signedIn(), streams: { start_run: runEvents() }, delays: { prepare_region: 120_000 } }), '#/new');
  await expect(page.getByRole('heading', { name: 'Your code' })).toBeVisible();
  await expect(page.getByText('You can also drag your script, or its folder, onto this window.')).toBeVisible();
  await expect(page.getByText('or drag your file onto this window')).toHaveCount(2);
  await expect(page.getByRole('button', { name: 'Code' })).toHaveAttribute('aria-current', 'step');
  await app.shot('20-wizard-code-empty');

  await pickCode(page);
  await expect(page.getByTestId('file-script')).toContainText('train.py');
  await expect(page.getByTestId('file-script')).toContainText('4.2 KB');
  const reqs = page.getByTestId('file-requirements');
  await expect(reqs).toContainText('4 packages will be installed with pip');
  await expect(reqs.getByRole('list', { name: 'Packages' })).toContainText('scikit-learn');
  await expect(reqs).toContainText('==1.26.4');
  await app.shot('21-wizard-code-picked');

  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByRole('heading', { name: 'Machine', exact: true })).toBeVisible();
  await expect(page.getByLabel('Region')).toHaveValue('eu-west-3');
  await expect(page.getByRole('radio', { name: /t3\.medium/ })).toBeChecked();
  await expect(page.getByTestId('selected-type')).toContainText('t3.medium — 2 vCPU · 4 GiB memory');
  await expect(page.getByRole('group', { name: /General purpose/ })).toBeVisible();
  await expect(page.getByRole('group', { name: /^Recommended/ })).toContainText('NVIDIA T4');
  await expect(page.getByLabel('Disk size (GiB)')).toHaveValue('30');
  await expect(page.getByTestId('ami-auto')).toContainText(AMI.name);
  await app.shot('22-wizard-machine');

  // Search narrows the list.
  await page.getByLabel('Search machine types').fill('gpu');
  await expect(page.getByRole('radio', { name: /g4dn\.xlarge/ })).toBeVisible();
  await expect(page.getByRole('radio', { name: /m5\.xlarge/ })).toHaveCount(0);
  await app.shot('23-wizard-machine-search-gpu');
  await page.getByLabel('Search machine types').fill('');

  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByRole('heading', { name: 'Storage' })).toBeVisible();
  await expect(page.getByLabel('Bucket name')).toHaveValue('easytdv-123456789012-eu-west-3');
  await app.shot('24-wizard-storage');

  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByRole('heading', { name: 'Review and launch' })).toBeVisible();
  const created = page.getByRole('region', { name: /What will be created/ });
  // easyTDV's shared resources, created on the first run in a region only; then the run's machine.
  for (const thing of ["easyTDV's shared resources in this region", 'easytdv-base', 'on your first run there only', 'EC2 instance']) {
    await expect(created).toContainText(thing);
  }
  await expect(created).not.toContainText('IAM roles');
  // Being made since the Machine step (once past the first step, the region left as it is).
  await expect(created.getByRole('status')).toHaveText(/Being created now, once .* You can launch already: the run waits for them\./);
  expect((await app.calls('prepare_region')).map((c) => c.args)).toEqual([{ accountId: KEYS_ACCOUNT.id, region: 'eu-west-3' }]);
  await expect(created).toContainText('One click deletes them all');
  await expect(page.getByRole('region', { name: 'Your training' })).toContainText('Europe (Paris) — eu-west-3');
  await app.shot('25-wizard-review');

  await page.getByRole('button', { name: 'Launch training' }).click();
  await expect(page).toHaveURL(new RegExp(`#/runs/${RUN_ID}$`));
  expect((await app.calls('start_run'))[0]?.args).toEqual({
    accountId: KEYS_ACCOUNT.id,
    request: {
      scriptPath: SCRIPT.path,
      requirementsPath: REQUIREMENTS.path,
      instanceType: 't3.medium',
      diskGb: 30,
      region: 'eu-west-3',
      bucket: 'easytdv-123456789012-eu-west-3',
      ami: null,
      maxRuntimeHours: 24,
      budgetUsd: null,
    },
    onEvent: expect.stringMatching(/^channel:/),
  });
  expect((await app.calls('suggest_bucket_name'))[0]?.args).toEqual({ accountId: KEYS_ACCOUNT.id, region: 'eu-west-3' });
  expect((await app.calls('resolve_ami'))[0]?.args).toEqual({
    accountId: KEYS_ACCOUNT.id,
    region: 'eu-west-3',
    instanceType: 't3.medium',
    custom: null,
  });
  await expect(page.getByTestId('success')).toBeVisible();
});

test('Code step: Next without files says what is missing', async ({ page, app }) => {
  await app.open(scenario({ results: signedIn() }), '#/new');
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByText('Choose your training script (a .py file such as train.py, or a .ipynb notebook).')).toBeVisible();
  await expect(page.getByText('Choose your requirements.txt')).toBeVisible();
  await expect(page.getByText('Please fix what is marked in red to continue.')).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Your code' })).toBeVisible();
  await app.shot('26-wizard-code-errors');
});

test('Code step: a file the backend rejects shows why; drag-and-drop checks the dropped files', async ({ page, app }) => {
  await app.open(
    scenario({
      results: { ...signedIn(), check_file: SCRIPT },
      errors: {
        pick_requirements: {
          code: 'requirements_invalid',
          message: 'requirements.txt line 3 is not a package: "import numpy".',
          hint: 'Keep one package per line, e.g. numpy==1.26.4.',
        },
      },
    }),
    '#/new',
  );
  await page.getByRole('button', { name: 'Choose requirements.txt…' }).click();
  await expect(page.getByRole('alert')).toContainText('line 3 is not a package');
  await expect(page.getByRole('alert')).toContainText('Keep one package per line');
  await app.shot('27-wizard-code-file-error');

  await page.evaluate(() =>
    (window as unknown as { __MOCK_EMIT__: (e: string, p: unknown) => void }).__MOCK_EMIT__('tauri://drag-drop', {
      paths: ['/home/marie/project/train.py'],
      position: { x: 10, y: 10 },
    }),
  );
  await expect(page.getByTestId('file-script')).toContainText('train.py');
  expect((await app.calls('check_file'))[0]?.args).toEqual({ path: '/home/marie/project/train.py', kind: 'script' });
});

test('Machine step: disk size and custom image errors', async ({ page, app }) => {
  await app.open(scenario({ results: signedIn() }), '#/new');
  await pickCode(page);
  await page.getByRole('button', { name: 'Next' }).click();
  const disk = page.getByLabel('Disk size (GiB)');
  const next = page.getByRole('button', { name: 'Next' });
  for (const [value, message] of [
    ['4', 'The disk must be at least 8 GiB.'],
    ['20000', 'The disk can be at most 16384 GiB (16 TiB).'],
    ['', 'Enter a disk size in GiB.'],
  ] as const) {
    await disk.fill(value);
    await next.click();
    await expect(page.getByText(message)).toBeVisible();
    await expect(disk).toHaveAttribute('aria-invalid', 'true');
  }
  await disk.fill('50');
  // Typing does not reload what AWS offers.
  expect(await app.calls('list_instance_types')).toHaveLength(1);
  expect(await app.calls('resolve_ami')).toHaveLength(1);
  await page.getByText('Advanced').click();
  await page.getByLabel('Image ID').fill('ami-nothex');
  await next.click();
  await expect(page.getByText(/An image id looks like ami-/)).toBeVisible();
  await app.shot('28-wizard-machine-errors');
  const hours = page.getByLabel('Turn the machine off after at most (hours)');
  await hours.fill('0');
  await next.click();
  await expect(page.getByText('At least 1 hour.')).toBeVisible();
  await hours.fill('49');
  await next.click();
  await expect(
    page.getByText('At most 48 hours: AWS runs one command for at most 48 hours, so a training cannot last longer.'),
  ).toBeVisible();
  await expect(hours).toHaveAttribute('max', '48');
  await hours.fill('48');
  await page.getByLabel('Image ID').fill('ami-0123456789abcdef0');
  await expect(page.getByTestId('ami-custom')).toContainText(AMI.name);
  await next.click();
  await expect(page.getByRole('heading', { name: 'Storage' })).toBeVisible();
  expect((await app.calls('resolve_ami')).at(-1)?.args).toMatchObject({ custom: 'ami-0123456789abcdef0' });
});

test('Machine step: choosing another account and region reloads the machine list', async ({ page, app }) => {
  await app.open(scenario({ results: signedIn({ list_accounts: [KEYS_ACCOUNT, PROFILE_ACCOUNT] }) }), '#/new');
  await pickCode(page);
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByLabel('Account').selectOption(PROFILE_ACCOUNT.id);
  await expect(page.getByLabel('Region')).toHaveValue('us-east-1');
  await page.getByLabel('Region').selectOption('eu-north-1');
  await expect(page.getByRole('radio', { name: /t3\.medium/ })).toBeChecked();
  const calls = await app.calls('list_instance_types');
  expect(calls.at(-1)?.args).toEqual({ accountId: PROFILE_ACCOUNT.id, region: 'eu-north-1' });
  expect((await app.calls('list_account_regions')).map((c) => c.args.accountId)).toEqual([KEYS_ACCOUNT.id, PROFILE_ACCOUNT.id]);
});

test('Storage step: each bucket name error, and an existing bucket', async ({ page, app }) => {
  await app.open(scenario({ results: signedIn() }), '#/new');
  await pickCode(page);
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Next' }).click();
  const name = page.getByLabel('Bucket name');
  const next = page.getByRole('button', { name: 'Next' });
  const cases: [string, string | RegExp][] = [
    ['', 'Enter a bucket name.'],
    ['ab', 'A bucket name needs at least 3 characters.'],
    ['a'.repeat(64), /at most 63 characters/],
    ['My-Bucket', 'Use lowercase letters only (no capitals).'],
    ['my_bucket', /Use only lowercase letters, digits, dots/],
    ['-bucket', 'Start the name with a lowercase letter or a digit.'],
    ['bucket-', 'End the name with a lowercase letter or a digit.'],
    ['my..bucket', 'Two dots in a row (..) are not allowed.'],
    ['192.168.1.1', /cannot look like an IP address/],
    ['xn--bucket', 'A bucket name cannot start with "xn--".'],
    ['data-s3alias', 'A bucket name cannot end with "-s3alias".'],
  ];
  for (const [value, message] of cases) {
    await name.fill(value);
    await next.click();
    await expect(page.locator('#s-new-error')).toHaveText(message);
    await expect(page.getByRole('heading', { name: 'Storage' })).toBeVisible();
  }
  await app.shot('29-wizard-storage-error');

  await page.getByRole('radio', { name: 'Use one of my buckets' }).check();
  await next.click();
  await expect(page.getByText('Choose one of your buckets, or create a new one.')).toBeVisible();
  await page.getByLabel('Bucket', { exact: true }).selectOption('marie-datasets');
  await next.click();
  await expect(page.getByRole('region', { name: 'Your training' })).toContainText('marie-datasets (existing)');
  await expect(page.getByRole('region', { name: /What will be created/ })).not.toContainText('S3 bucket');
});

test('Review: a launch error is shown with what to do, and nothing navigates away', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn(),
      errors: {
        start_run: {
          code: 'bucket_other_region',
          message: 'The bucket marie-datasets is in us-east-1, not in eu-west-3.',
          hint: 'Choose a bucket in the same region, or create a new one.',
        },
      },
    }),
    '#/new',
  );
  await pickCode(page);
  for (let i = 0; i < 3; i++) await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Launch training' }).click();
  await expect(page.getByRole('alert')).toContainText('The training could not start');
  await expect(page.getByRole('alert')).toContainText('Choose a bucket in the same region');
  await expect(page).toHaveURL(/#\/new$/);
  await app.shot('30-wizard-launch-error');
  // The step list lets the user go back to fix it.
  await page.getByRole('navigation', { name: 'New run steps' }).getByRole('button', { name: 'Storage' }).click();
  await expect(page.getByRole('heading', { name: 'Storage' })).toBeVisible();
});

test('Machine step: in a long list the default machine is scrolled into view', async ({ page, app }) => {
  // Taller than the default 800 px: the engine choice (EC2 or SageMaker) above the list pushes it below 800 px.
  await page.setViewportSize({ width: 1100, height: 1000 });
  const many = Array.from({ length: 80 }, (_, i) => ({
    name: `a${i}.large`,
    vcpus: 1,
    memoryMib: 512 + i,
    gpuCount: 0,
    gpuModel: null,
    arm: false,
    category: 'general' as const,
    accelerator: 'none' as const,
    warning: null,
    previousGeneration: false,
    usdPerHour: 0.01 + i / 1000,
    recommended: null,
  }));
  await app.open(scenario({ results: signedIn({ list_instance_types: [...many, ...INSTANCE_TYPES] }) }), '#/new');
  await pickCode(page);
  await page.getByRole('button', { name: 'Next' }).click();
  const chosen = page.getByRole('radio', { name: /t3\.medium/ });
  await expect(chosen).toBeChecked();
  await expect(chosen).toBeInViewport();
  await expect(page.getByRole('heading', { name: 'Machine', exact: true })).toBeInViewport();
});

test('Machine step: the regions offered are the ones enabled for the account, from AWS', async ({ page, app }) => {
  await app.open(scenario({ results: signedIn() }), '#/new');
  await pickCode(page);
  await page.getByRole('button', { name: 'Next' }).click();
  const region = page.getByLabel('Region');
  await expect(region).toHaveValue(KEYS_ACCOUNT.region);
  await expect(region.locator('option')).toHaveText(ACCOUNT_REGIONS.map((r) => `${r.name} — ${r.code}`));
  await expect(page.getByTestId('regions-note')).toHaveCount(0);
  expect((await app.calls('list_account_regions'))[0]?.args).toEqual({ accountId: KEYS_ACCOUNT.id });
  await expect(page.getByRole('radio', { name: /t3\.medium/ })).toBeChecked();
  await app.shot('wizard-machine-account-regions');
});

test('Machine step: when AWS cannot list the account regions, all regions are offered with a note', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn(),
      errors: { list_account_regions: { code: 'aws_denied', message: 'Not allowed: ec2:DescribeRegions', hint: null } },
    }),
    '#/new',
  );
  await pickCode(page);
  await page.getByRole('button', { name: 'Next' }).click();
  const region = page.getByLabel('Region');
  await expect(region).toHaveValue(KEYS_ACCOUNT.region);
  await expect(page.getByTestId('regions-note')).toContainText('Could not ask AWS which regions this account can use');
  await expect(region.locator('option')).toHaveCount(REGIONS.length);
  await region.selectOption('ap-northeast-1');
  await expect(region).toHaveValue('ap-northeast-1');
  await expect(page.getByRole('radio', { name: /t3\.medium/ })).toBeChecked();
  await app.shot('wizard-machine-regions-fallback');
});

test('Use an example fills in the bundled script and requirements', async ({ page, app }) => {
  const example = {
    script: { path: '/usr/lib/easyTDV/examples/digits/train.py', name: 'train.py', sizeBytes: 2190, packages: [] },
    requirements: {
      path: '/usr/lib/easyTDV/examples/digits/requirements.txt',
      name: 'requirements.txt',
      sizeBytes: 13,
      packages: ['scikit-learn'],
    },
  };
  await app.open(scenario({ results: { ...signedIn(), example_files: example } }), '#/new');
  await expect(page.getByText('handwritten digits')).toBeVisible();
  await page.getByRole('button', { name: 'Use an example' }).click();
  await expect(page.getByTestId('file-script')).toContainText('train.py');
  await expect(page.getByTestId('file-requirements')).toContainText('scikit-learn');
  expect(await app.calls('pick_script')).toHaveLength(0);
  await app.shot('20a-wizard-code-example');
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByRole('heading', { name: 'Machine', exact: true })).toBeVisible();
});

test('Review: the region made ready while the wizard is filled in, once; a failure is said and tried again by the run', async ({
  page,
  app,
}) => {
  await app.open(scenario({ results: signedIn(), delays: { prepare_region: 3_500 } }), '#/new');
  const next = await toReview(page);
  const created = page.getByRole('region', { name: /What will be created/ });
  await expect(created).toContainText(
    "easyTDV's shared resources in this region — created while you filled in this form: nothing to wait for.",
    {
      timeout: 10_000,
    },
  );
  await expect(created).not.toContainText('on your first run there only');
  // The bucket the preparation made is the one suggested: ready, not to be created.
  await expect(created).toContainText('S3 bucket easytdv-123456789012-eu-west-3 — already made, private and encrypted');
  await expect(page.getByRole('region', { name: 'Your training' })).toContainText('easytdv-123456789012-eu-west-3 (ready)');
  await app.shot('104-review-region-ready');
  // Back and forth through the steps: asked once for this account and region.
  await page.getByRole('button', { name: 'Back' }).click();
  await next.click();
  expect(await app.calls('prepare_region')).toHaveLength(1);
});

test('Review: when the region cannot be made ready ahead, the review says why and that the run will try again', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn(),
      errors: {
        prepare_region: {
          code: 'account_not_set_up',
          message: 'the AWS account 123456789012 is not set up for easyTDV yet',
          hint: 'Do the one-time setup.',
        },
      },
    }),
    '#/new',
  );
  await toReview(page);
  const created = page.getByRole('region', { name: /What will be created/ });
  await expect(created).toContainText(
    'They could not be made ahead (the AWS account 123456789012 is not set up for easyTDV yet); the run will try again and say what to do.',
  );
});

/** From the Code step to the Review with the defaults; returns the Next button. */
async function toReview(page: Page) {
  await pickCode(page);
  const next = page.getByRole('button', { name: 'Next' });
  await next.click();
  await expect(page.getByRole('heading', { name: 'Machine', exact: true })).toBeVisible();
  await next.click();
  await next.click();
  await expect(page.getByRole('heading', { name: 'Review and launch' })).toBeVisible();
  return next;
}
