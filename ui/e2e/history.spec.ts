import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { ENVIRONMENTS, KEYS_ACCOUNT, LEFTOVERS, PROFILE_ACCOUNT, scanOf, REQUEST, runRecord, signedIn, STORED_FILES } from './data';
import { expect, scenario, test } from './fixtures';
import type { RunRecord } from './wire';

async function axe(page: Page, name: string) {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  expect(result.violations.map((v) => `${name}: ${v.id} ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
}

const DAY = 24 * 3600 * 1000;
const memoKey = (id: string) => `easytdv.leftoverCheck.${id}`;

/** Runs of every kind, with long names and texts: what the table must fit without sideways scroll. */
function wideRuns(): RunRecord[] {
  const base = runRecord('succeeded');
  const long = '/home/marie/projects/very-long-project-name/experiments/train_resnet50_imagenet_mixed_precision_v2.py';
  return [
    runRecord('running', {
      runId: 'w-1',
      createdAt: '2026-11-22T09:00:00Z',
      request: { ...REQUEST, instanceType: 'g4dn.12xlarge', scriptPath: long },
      resources: { ...base.resources, runId: 'w-1', launchedAt: Math.floor(Date.now() / 1000) - 7200 },
      cost: { usd: 11.47, usdPerHour: 3.912, hours: 2, growing: true, spotSavedUsd: null },
    }),
    runRecord('failed', { runId: 'w-2', createdAt: '2026-11-21T09:00:00Z', cleanup: 'failed', lastStep: 'training' }),
    runRecord('succeeded', {
      runId: 'w-3',
      createdAt: '2025-11-20T09:00:00Z',
      summary: {
        phases: [],
        python: '3.11.9',
        installer: 'uv 0.4.18',
        environment: 'reused the environment of 2026-11-20',
        preinstalled: null,
        shutdownNotice: null,
        keptWarmUntil: null,
        latestLine: 'done',
        finalMetrics: { val_accuracy: 0.93412, loss: 0.0123, learning_rate: 0.0001, epoch_time_seconds: 12.5 },
      },
      resources: { ...base.resources, runId: 'w-3', launchedAt: 1_795_000_000, endedAt: 1_795_000_000 + 1800 },
      cost: { usd: 0.0255, usdPerHour: 0.051, hours: 0.5, growing: false, spotSavedUsd: null },
    }),
    runRecord('stopped', { runId: 'w-4', createdAt: '2026-11-19T09:00:00Z', cleanup: 'none' }),
  ];
}

test('Saved environments: listed with packages, Python, machine, date, size and $/month; Delete asks first', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn({ list_runs: [runRecord('succeeded')], list_environments: ENVIRONMENTS }),
      delays: { delete_environment: 150 },
    }),
  );
  const panel = page.getByTestId('environments-panel');
  await expect(panel).toContainText('Installed packages kept in your bucket so the next run with the same requirements starts in seconds');
  const rows = panel.getByTestId('environment-row');
  await expect(rows).toHaveCount(3);
  expect((await app.calls('list_environments'))[0]?.args).toEqual({ accountId: 'acc-1' });
  await expect(rows.nth(0).getByTestId('environment-packages')).toContainText('numpy, pandas, scikit-learn, torch and 2 more');
  await expect(rows.nth(0).getByTestId('environment-packages')).toContainText('(6 packages)');
  await expect(rows.nth(0).getByTestId('environment-packages')).toHaveAttribute('title', /matplotlib==3\.9\.0/);
  await expect(rows.nth(0)).toContainText('Python 3.11.9 · x86 (Intel/AMD)');
  await expect(rows.nth(0)).toContainText('Nov 22');
  await expect(rows.nth(0).getByTestId('environment-size')).toHaveText('870 MB');
  await expect(rows.nth(0).getByTestId('environment-cost')).toHaveText('$0.021/month');
  await expect(rows.nth(1)).toContainText('Python 3.10.12 · Arm (Graviton)');
  await expect(rows.nth(1).getByTestId('environment-size')).toHaveText('1,749 MB');
  await expect(rows.nth(2)).toContainText('2025');
  await expect(rows.nth(2).getByTestId('environment-size')).toHaveText('0.4 MB');
  await expect(rows.nth(2).getByTestId('environment-cost')).toHaveText('under $0.01/month');
  await expect(panel.getByTestId('environments-summary')).toContainText('3 saved environments, about $0.0632/month in all');
  await axe(page, 'saved environments');
  await page.getByTestId('environments-panel').scrollIntoViewIfNeeded();
  await app.shot('98-saved-environments');

  await rows
    .nth(1)
    .getByRole('button', { name: /Delete the environment with transformers/ })
    .click();
  const dialog = page.getByRole('dialog');
  await expect(dialog).toContainText('the next run with these requirements installs them again');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  expect(await app.calls('delete_environment')).toHaveLength(0);

  await rows
    .nth(1)
    .getByRole('button', { name: /Delete/ })
    .click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete', exact: true }).click();
  await expect(rows.nth(1).getByText('Deleting…')).toBeVisible();
  await expect(rows).toHaveCount(2);
  expect((await app.calls('delete_environment'))[0]?.args).toEqual({ accountId: 'acc-1', environment: ENVIRONMENTS[1] });
  await expect(panel.getByTestId('environments-summary')).toContainText('2 saved environments');
});

test('Stored in your bucket: the project and data files per bucket, their size and $/month, the total; Delete files says what it kept', async ({
  page,
  app,
}) => {
  const after = [{ ...STORED_FILES[0]!, count: 5, sizeBytes: 40_960, usdPerMonth: (40_960 / 1e9) * 0.023 }, STORED_FILES[1]!];
  await app.open(
    scenario({
      results: signedIn({
        list_runs: [runRecord('succeeded')],
        list_environments: ENVIRONMENTS,
        list_stored_files: STORED_FILES,
        delete_stored_files: {
          bucket: STORED_FILES[0]!.bucket,
          region: 'eu-west-3',
          deleted: 209,
          kept: 5,
          bytesFreed: 5_368_668_160,
        },
      }),
      delays: { delete_stored_files: 150 },
      then: { delete_stored_files: { list_stored_files: after } },
    }),
  );
  const panel = page.getByTestId('environments-panel');
  await expect(panel.getByRole('heading', { name: 'Stored in your bucket' })).toBeVisible();
  await expect(panel.getByTestId('stored-files-intro')).toContainText('The next run sends only the files that changed');
  await expect(panel.getByTestId('stored-files-intro')).toContainText('the next run then sends all its files again');
  expect((await app.calls('list_stored_files'))[0]?.args).toEqual({ accountId: 'acc-1' });
  const rows = panel.getByTestId('stored-files-row');
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(0)).toContainText('easytdv-123456789012-eu-west-3 (eu-west-3)');
  await expect(rows.nth(0).getByTestId('stored-files-count')).toHaveText('214 files');
  await expect(rows.nth(0).getByTestId('stored-files-size')).toHaveText('5.0 GB');
  await expect(rows.nth(0).getByTestId('stored-files-cost')).toHaveText('$0.12/month');
  await expect(rows.nth(0)).toContainText('Nov 22');
  await expect(rows.nth(1).getByTestId('stored-files-size')).toHaveText('12 KB');
  await expect(rows.nth(1).getByTestId('stored-files-cost')).toHaveText('under $0.01/month');
  // Files and environments together: 5.37 GB + 2.75 GB at $0.023/GB-month.
  await expect(panel.getByTestId('stored-total')).toHaveText('Everything stored: about $0.19/month (S3 Standard storage).');
  await axe(page, 'stored in your bucket');
  await panel.scrollIntoViewIfNeeded();
  await app.shot('98-stored-in-your-bucket');

  await rows.nth(0).getByRole('button', { name: 'Delete files in easytdv-123456789012-eu-west-3' }).click();
  const dialog = page.getByRole('dialog');
  await expect(dialog).toContainText('Files a run in progress still uses are kept');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  expect(await app.calls('delete_stored_files')).toHaveLength(0);

  await rows
    .nth(0)
    .getByRole('button', { name: /Delete files/ })
    .click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete files', exact: true }).click();
  await expect(rows.nth(0).getByText('Deleting…')).toBeVisible();
  await expect(panel.getByTestId('stored-files-deleted')).toHaveText(
    'Deleted 209 files (5.0 GB freed); 5 files a run in progress uses were kept.',
  );
  await expect(rows.nth(0).getByTestId('stored-files-count')).toHaveText('5 files');
  expect((await app.calls('delete_stored_files'))[0]?.args).toEqual({
    accountId: 'acc-1',
    bucket: 'easytdv-123456789012-eu-west-3',
    region: 'eu-west-3',
  });
});

test('Saved environments: the empty state', async ({ page, app }) => {
  await app.open(scenario({ results: signedIn({ list_runs: [runRecord('succeeded')] }) }));
  await expect(page.getByTestId('environments-none')).toContainText('No saved environments yet');
});

test('Saved environments: a failed list says why and what to do', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn({ list_runs: [runRecord('succeeded')] }),
      errors: {
        list_environments: {
          code: 'access_denied',
          message: 'AWS refused to list easytdv/cache/ in easytdv-123456789012-eu-west-3 (s3:ListBucket).',
          hint: 'Add the permissions easyTDV needs to your AWS user (Accounts → Permissions easyTDV needs), then try again.',
        },
      },
    }),
  );
  const err = page.getByRole('alert').filter({ hasText: 'Could not list the saved environments' });
  await expect(err).toContainText('s3:ListBucket');
  await expect(err).toContainText('then try again');
  await axe(page, 'saved environments error');
});

test('Leftover check offered on the first start: Check now runs the find and is remembered per account', async ({ page, app }) => {
  await app.open(scenario({ results: signedIn({ list_runs: [runRecord('succeeded')], find_leftovers: scanOf(LEFTOVERS) }) }));
  const banner = page.getByTestId('leftover-check-banner');
  await expect(banner).toContainText('Check your AWS account for forgotten easyTDV resources? (last checked: never)');
  await axe(page, 'leftover check banner');
  await app.shot('99-leftover-check-banner');
  expect(await app.calls('find_leftovers')).toHaveLength(0);

  await banner.getByRole('button', { name: 'Check now' }).click();
  await expect(banner).toHaveCount(0);
  await expect(page.getByTestId('leftover-row')).toHaveCount(2);
  expect((await app.calls('find_leftovers'))[0]?.args).toEqual({ accountId: 'acc-1' });
  const memo = JSON.parse((await page.evaluate((k) => localStorage.getItem(k), memoKey('acc-1'))) ?? '{}') as { checkedAt: number };
  expect(Date.now() - memo.checkedAt).toBeLessThan(60_000);

  await page.reload();
  await expect(page.getByTestId('run-row')).toHaveCount(1);
  await expect(page.getByTestId('leftover-check-banner')).toHaveCount(0);
});

test('Leftover check: "Not now" waits a week', async ({ page, app }) => {
  await app.open(scenario({ results: signedIn({ list_runs: [runRecord('succeeded')] }) }));
  await page.getByTestId('leftover-check-banner').getByRole('button', { name: 'Not now' }).click();
  await expect(page.getByTestId('leftover-check-banner')).toHaveCount(0);
  expect(await app.calls('find_leftovers')).toHaveLength(0);
  const memo = JSON.parse((await page.evaluate((k) => localStorage.getItem(k), memoKey('acc-1'))) ?? '{}') as { snoozedUntil: number };
  expect(memo.snoozedUntil - Date.now()).toBeGreaterThan(6.9 * DAY);
  await page.reload();
  await expect(page.getByTestId('run-row')).toHaveCount(1);
  await expect(page.getByTestId('leftover-check-banner')).toHaveCount(0);
});

test('Leftover check: with two accounts, the one not checked for nine days is named', async ({ page, app }) => {
  await page.addInitScript(
    ([k1, k2, day]) => {
      if (sessionStorage.getItem('seeded')) return;
      sessionStorage.setItem('seeded', '1');
      localStorage.setItem(k1, JSON.stringify({ checkedAt: Date.now() - day, snoozedUntil: null }));
      localStorage.setItem(k2, JSON.stringify({ checkedAt: Date.now() - 9 * day - 1000, snoozedUntil: null }));
    },
    [memoKey('acc-1'), memoKey('acc-2'), DAY] as const,
  );
  await app.open(scenario({ results: signedIn({ list_accounts: [KEYS_ACCOUNT, PROFILE_ACCOUNT], list_runs: [runRecord('succeeded')] }) }));
  const banner = page.getByTestId('leftover-check-banner');
  await expect(banner).toContainText('Check your AWS account “Lab” for forgotten easyTDV resources? (last checked: 9 days ago)');
  await banner.getByRole('button', { name: 'Check now' }).click();
  await expect(page.getByTestId('leftovers-none')).toBeVisible();
  expect((await app.calls('find_leftovers'))[0]?.args).toEqual({ accountId: 'acc-2' });
  await expect(page.getByLabel('Account to check')).toHaveValue('acc-2');
  await expect(banner).toHaveCount(0);
});

test('History statuses: Refresh asks again, and every minute while a run is not cleaned up ("checked HH:MM")', async ({ page, app }) => {
  await page.clock.install();
  await app.open(scenario({ results: signedIn({ list_runs: wideRuns() }) }));
  await expect(page.getByTestId('run-row')).toHaveCount(4);
  await expect(page.getByTestId('refresh-time')).toHaveText(/^checked \d\d:\d\d$/);
  expect(await app.calls('refresh_runs')).toHaveLength(1);

  await page.getByRole('button', { name: 'Refresh' }).click();
  await expect.poll(async () => (await app.calls('refresh_runs')).length).toBe(2);
  expect(await app.calls('list_runs')).toHaveLength(2);
  await expect(page.getByTestId('refresh-time')).toBeVisible();

  await page.clock.fastForward(61_000);
  await expect.poll(async () => (await app.calls('refresh_runs')).length).toBe(3);
  await page.clock.fastForward(61_000);
  await expect.poll(async () => (await app.calls('refresh_runs')).length).toBe(4);
});

test('History statuses: no timer once every run is cleaned up', async ({ page, app }) => {
  await page.clock.install();
  await app.open(
    scenario({ results: signedIn({ list_runs: [runRecord('succeeded'), runRecord('failed', { runId: 'r2', cleanup: 'deleted' })] }) }),
  );
  await expect(page.getByTestId('refresh-time')).toBeVisible();
  await page.clock.fastForward(125_000);
  await page.waitForTimeout(200);
  expect(await app.calls('list_runs')).toHaveLength(1);
  expect(await app.calls('refresh_runs')).toHaveLength(1);
  await page.getByRole('button', { name: 'Refresh' }).click();
  await expect.poll(async () => (await app.calls('refresh_runs')).length).toBe(2);
});

for (const width of [1100, 1280]) {
  test(`History table fits ${width} px: no sideways scroll, buttons whole, rows of one height`, async ({ page, app }) => {
    await page.setViewportSize({ width, height: 800 });
    await app.open(
      scenario({
        results: signedIn({
          list_runs: wideRuns(),
          refresh_runs: {
            statuses: [{ runId: 'w-1', stackStatus: 'CREATE_COMPLETE', instanceState: 'running' }],
            calls: 2,
            failures: [],
          },
        }),
      }),
    );
    const rows = page.getByTestId('run-row');
    await expect(rows).toHaveCount(4);
    await expect(rows.nth(0).getByTestId('run-row-cloud')).toHaveText('machine (running) + cloud resources');
    const scroller = page.getByTestId('runs-scroller');
    const sizes = await scroller.evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
    expect(sizes.scroll).toBeLessThanOrEqual(sizes.client);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
    const box = await scroller.boundingBox();
    for (const b of await page.getByTestId('runs-scroller').getByRole('button').all()) {
      const bb = await b.boundingBox();
      expect(bb && box && bb.x + bb.width <= box.x + box.width).toBe(true);
    }
    const open = await rows.nth(0).getByRole('link', { name: /^Open/ }).boundingBox();
    expect(open && box && open.x + open.width <= box.x + box.width).toBe(true);
    await expect(rows.nth(0).getByRole('button', { name: /Stop and delete/ })).toBeVisible();
    // The long script name ends in "…", the whole path as its tooltip.
    const script = rows.nth(0).getByTestId('run-row-script');
    await expect(script).toHaveAttribute('title', /train_resnet50_imagenet_mixed_precision_v2\.py$/);
    expect(await script.evaluate((el) => el.scrollWidth > el.clientWidth)).toBe(true);
    // The compact date is whole.
    const started = rows.nth(0).locator('td').nth(2).locator('.line').first();
    expect(await started.evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true);
    const heights = await rows.evaluateAll((els) => els.map((e) => (e as HTMLElement).offsetHeight));
    expect(new Set(heights).size, `row heights ${heights.join(', ')}`).toBe(1);
    await axe(page, `history at ${width}`);
    await app.shot(`9${width === 1100 ? 'a' : 'b'}-history-${width}`);
  });
}

test('Runs: machines kept warm, with their cost so far and when they stop; Stop now ends one', async ({ page, app }) => {
  const now = Math.floor(Date.now() / 1000);
  const machine = {
    instanceId: 'i-0123456789abcdef0',
    accountId: KEYS_ACCOUNT.id,
    awsAccount: '123456789012',
    region: 'eu-west-3',
    instanceType: 't3.medium',
    imageId: 'ami-0123456789abcdef0',
    diskGb: 30,
    bucket: 'easytdv-123456789012-eu-west-3',
    machineRoleId: 'AROAEXAMPLE',
    project: 'f0e1d2c3',
    market: 'on-demand',
    cacheKey: null,
    zone: 'eu-west-3a',
    usdPerHour: 0.06,
    since: now - 1800,
    until: now + 1200,
    runId: runRecord('succeeded').runId,
  };
  const fromCli = { ...machine, instanceId: 'i-0fedcba9876543210', accountId: 'cli', instanceType: 'g5.xlarge', usdPerHour: null };
  await app.open(
    scenario({
      results: signedIn({ list_accounts: [KEYS_ACCOUNT], list_runs: [runRecord('succeeded')], warm_machines: [machine, fromCli] }),
    }),
    '#/runs',
  );
  const panel = page.getByTestId('warm-panel');
  await expect(panel).toContainText('Kept ready for your next run');
  const rows = panel.getByTestId('warm-machine');
  await expect(rows).toHaveCount(2);
  // Half an hour at $0.06/h so far.
  await expect(rows.first().getByTestId('warm-cost')).toContainText('$0.06/h · $0.03 so far · stops itself at');
  await expect(rows.nth(1)).toContainText('easytdv warm --stop i-0fedcba9876543210');
  await expect(rows.nth(1).getByRole('button', { name: 'Stop now' })).toHaveCount(0);
  await axe(page, 'runs with warm machines');
  await app.shot('101-runs-warm-machines');
  await rows.first().getByRole('button', { name: 'Stop now' }).click();
  expect((await app.calls('stop_warm_machine'))[0]?.args).toEqual({ instanceId: 'i-0123456789abcdef0' });
  await expect(rows).toHaveCount(1);
});

test('Run page: a run that kept its machine warm says until when, with Stop now; one that started on a warm machine says so', async ({
  page,
  app,
}) => {
  const now = Math.floor(Date.now() / 1000);
  const base = runRecord('succeeded');
  const record = runRecord('succeeded', {
    cleanup: 'deleted',
    resources: { ...base.resources, keptWarm: { instanceId: 'i-0abc123', until: now + 600 }, warmStart: true },
  });
  const machine = {
    instanceId: 'i-0abc123',
    accountId: 'acc-1',
    awsAccount: '123456789012',
    region: 'eu-west-3',
    instanceType: 't3.medium',
    imageId: 'ami-0a1b2c3d4e5f67890',
    diskGb: 30,
    bucket: base.resources.bucket,
    machineRoleId: 'AROAEXAMPLE',
    project: 'f0e1d2c3',
    market: 'on-demand',
    cacheKey: null,
    zone: 'eu-west-3a',
    usdPerHour: 0.0509,
    since: now - 60,
    until: now + 600,
    runId: base.runId,
  };
  await app.open(
    scenario({ results: signedIn({ list_runs: [record], warm_machines: [machine], run_metrics: [] }) }),
    `#/runs/${base.runId}`,
  );
  await expect(page.getByTestId('cleaned-up')).toHaveText('✓ Cleaned up: what the run created was deleted; its machine was kept on.');
  await expect(page.getByTestId('warm-start')).toContainText('started on a machine kept warm by an earlier run');
  await expect(page.getByTestId('kept-warm')).toContainText('keeps billing $0.0509/h while it waits');
  await expect(page.getByText('its machine was kept on for your next run')).toBeVisible();
  await expect(page.getByText('its machine was handed on to your next run (see Runs)')).toBeVisible();
  await app.shot('102-run-kept-warm');
  await page.getByTestId('kept-warm-stop').click();
  expect((await app.calls('stop_warm_machine'))[0]?.args).toEqual({ instanceId: 'i-0abc123' });
  await expect(page.getByTestId('kept-warm-gone')).toContainText('it has been used or stopped since');
});
