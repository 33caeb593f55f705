import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import {
  INSTANCE_TYPES,
  LEFTOVERS,
  scanOf,
  LIVE_ACTIVE,
  LIVE_GONE,
  OLDER_TYPES,
  QUOTE,
  REQUEST,
  RUN_ID,
  runRecord,
  signedIn,
  T3_MEDIUM_USD_PER_HOUR,
} from './data';
import { expect, scenario, test, pickCode } from './fixtures';
import type { RunRecord } from './wire';

async function axe(page: Page, name: string) {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  expect(result.violations.map((v) => `${name}: ${v.id} ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
}

async function toMachineStep(page: Page) {
  await pickCode(page);
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByRole('radio', { name: /t3\.medium/ })).toBeChecked();
}

test('Machine step: $/hour next to every type, Recommended first, older types on request, spot prices', async ({ page, app }) => {
  await app.open(scenario({ results: signedIn({ list_instance_types: [...INSTANCE_TYPES, ...OLDER_TYPES] }) }), '#/new');
  await toMachineStep(page);
  const recommended = page.getByRole('group', { name: /^Recommended/ });
  await expect(recommended.getByRole('radio')).toHaveCount(2);
  await expect(recommended).toContainText('t3.medium');
  await expect(recommended).toContainText('$0.0472/h');
  await expect(recommended).toContainText('Good for a first try');
  await expect(recommended).toContainText('g4dn.xlarge');
  await expect(recommended).toContainText('$0.74/h');
  await expect(page.getByRole('group', { name: /^Compute/ })).toContainText('$0.40/h');
  await expect(page.getByTestId('selected-type')).toContainText('$0.0472/h');
  await expect(page.getByRole('checkbox', { name: /^Spot machine — cheaper, AWS may take it back/ })).not.toBeChecked();
  await expect(page.getByTestId('ec2-spot').locator('..')).toContainText('from $0.0142/h in zone eu-west-3a');
  expect((await app.calls('spot_prices'))[0]?.args).toEqual({ accountId: 'acc-1', region: 'eu-west-3', instanceType: 't3.medium' });
  // Older generations are hidden until asked for; one has no known price.
  await expect(page.getByRole('radio', { name: /m4\.large/ })).toHaveCount(0);
  await page.getByRole('button', { name: 'Show older types (2)' }).click();
  await expect(page.getByRole('radio', { name: /m4\.large/ })).toBeVisible();
  await expect(page.locator('label', { has: page.getByRole('radio', { name: /c4\.xlarge/ }) })).toContainText('price unknown');
  await app.shot('90-wizard-machine-prices');
  // A search shows every match in its group, recommended ones marked.
  await page.getByLabel('Search machine types').fill('gpu');
  await expect(page.getByRole('group', { name: /^Recommended/ })).toHaveCount(0);
  await expect(page.getByRole('group', { name: /^GPU/ })).toContainText('Recommended');
  // Spot prices that cannot be read are not shown at all.
  await page.getByLabel('Search machine types').fill('');
  await page.evaluate(() => {
    (window as unknown as { __MOCK_SCENARIO__: { errors: Record<string, unknown> } }).__MOCK_SCENARIO__.errors.spot_prices = {
      code: 'aws',
      message: 'no',
      hint: null,
    };
  });
  await page.getByRole('radio', { name: /m5\.xlarge/ }).check();
  await expect(page.getByTestId('selected-type')).toContainText('m5.xlarge');
  await expect(page.getByTestId('spot-prices')).toHaveCount(0);
  await expect(page.getByTestId('ec2-spot')).toHaveCount(0);
});

test('Machine step: an EC2 spot machine, said on the Review and sent with the run', async ({ page, app }) => {
  await app.open(scenario({ results: signedIn() }), '#/new');
  await toMachineStep(page);
  await page.getByTestId('ec2-spot').check();
  await expect(page.getByTestId('spot-prices')).toContainText('When AWS has none, the run takes a regular machine');
  await app.shot('103-machine-ec2-spot');
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByLabel('Bucket name')).not.toHaveValue('');
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByTestId('review-ec2-spot')).toContainText('a regular machine when AWS has none');
  await page.getByRole('button', { name: 'Launch training' }).click();
  await expect(page).toHaveURL(new RegExp(`#/runs/${RUN_ID}$`));
  expect((await app.calls('start_run'))[0]?.args.request).toMatchObject({ spot: true });
});

test('Review: the price quote, re-asked with a budget cap; too small a cap and an unknown price said at the field', async ({
  page,
  app,
}) => {
  const cappedHours = 0.5 / T3_MEDIUM_USD_PER_HOUR;
  const capped = { ...QUOTE, safetyStopHours: cappedHours, atMostUsd: 0.5 };
  const hoursText = String(Number(cappedHours.toFixed(2)));
  await app.open(
    scenario({
      results: signedIn(),
      sequences: {
        price_quote: [QUOTE, capped],
      },
    }),
    '#/new',
  );
  await toMachineStep(page);
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByLabel('Bucket name')).not.toHaveValue('');
  await page.getByRole('button', { name: 'Next' }).click();
  const quote = page.getByTestId('quote');
  await expect(quote).toHaveText('About $0.0509 per hour; at most $1.22 if it runs until the safety stop (24 h).');
  expect((await app.calls('price_quote'))[0]?.args).toEqual({
    accountId: 'acc-1',
    region: 'eu-west-3',
    instanceType: 't3.medium',
    diskGb: 30,
    maxRuntimeHours: 24,
    budgetUsd: null,
  });
  await expect(page.getByText('the machine stops itself when this is spent, even with the app closed', { exact: false })).toBeVisible();
  await page.getByLabel('Budget cap ($, optional)').fill('0.5');
  await expect(quote).toHaveText(`About $0.0509 per hour; at most $0.50 if it runs until the safety stop (${hoursText} h).`);
  // Debounced: one more question for the typed cap, not one per key.
  expect((await app.calls('price_quote')).map((c) => c.args.budgetUsd)).toEqual([null, 0.5]);
  await expect(page.getByText(`${hoursText} hours (your budget cap)`)).toBeVisible();
  await app.shot('91-review-quote-budget');

  // Too small: the backend's words at the field, with its hint.
  await page.evaluate(() => {
    (window as unknown as { __MOCK_SCENARIO__: { errors: Record<string, unknown> } }).__MOCK_SCENARIO__.errors.price_quote = {
      code: 'budget_too_small',
      message: 'a budget of $0.01 buys less than 3 minutes of this machine (about $0.05 per hour)',
      hint: 'Raise the budget cap, or pick a cheaper machine.',
    };
  });
  await page.getByLabel('Budget cap ($, optional)').fill('0.01');
  await expect(page.locator('#r-budget-error')).toHaveText(
    'A budget of $0.01 buys less than 3 minutes of this machine (about $0.05 per hour).',
  );
  await expect(page.getByTestId('budget-hint')).toHaveText('Raise the budget cap, or pick a cheaper machine.');
  await expect(page.getByLabel('Budget cap ($, optional)')).toHaveAttribute('aria-invalid', 'true');
  await axe(page, 'review with budget error');
  await app.shot('92-review-budget-too-small');

  // Unknown price: the cap cannot apply, launching is still possible.
  await page.evaluate(() => {
    const s = (window as unknown as { __MOCK_SCENARIO__: { errors: Record<string, unknown>; sequences: Record<string, unknown> } })
      .__MOCK_SCENARIO__;
    delete s.errors.price_quote;
    s.sequences.price_quote = [{ usdPerHour: null, safetyStopHours: 24, atMostUsd: null, budgetIgnored: true }];
  });
  await page.getByLabel('Budget cap ($, optional)').fill('3');
  await expect(quote).toContainText('Price unknown');
  await expect(page.getByTestId('budget-ignored')).toContainText('cannot apply');
  await page.getByRole('button', { name: 'Launch training' }).click();
  await expect(page).toHaveURL(new RegExp(`#/runs/${RUN_ID}$`));
  expect((await app.calls('start_run'))[0]?.args.request).toMatchObject({ budgetUsd: 3 });
});

test('Run view: the cost meter counts every second while the machine runs, with the safety stop and the at-most amount', async ({
  page,
  app,
}) => {
  const launchedAt = Math.floor(Date.now() / 1000) - 3600;
  const rec = runRecord('running', {
    lastStep: 'training',
    resources: {
      ...runRecord('running').resources,
      launchedAt,
      usdPerHour: 0.737,
      safetyStopHours: 24,
    },
    request: { ...REQUEST, instanceType: 'g4dn.xlarge' },
  });
  await app.open(scenario({ results: signedIn({ list_runs: [rec], run_live_status: LIVE_ACTIVE }) }), `#/runs/${RUN_ID}`);
  const meter = page.getByTestId('cost-meter');
  await expect(meter.getByTestId('cost-so-far')).toContainText('$0.74');
  await expect(meter.getByTestId('cost-so-far')).toContainText(/1:00:0\d of machine time at \$0\.74\/h/);
  await expect(meter.getByTestId('cost-at-most')).toContainText('safety stop after 24 h');
  await expect(meter.getByTestId('cost-at-most')).toContainText('at most $17.69 in all');
  const first = await meter.getByTestId('cost-so-far').textContent();
  await expect.poll(async () => meter.getByTestId('cost-so-far').textContent(), { timeout: 5000 }).not.toBe(first);
  await axe(page, 'run view with cost meter');
  await app.shot('93-run-cost-meter');
});

test('Run view: price unknown in the meter', async ({ page, app }) => {
  const rec = runRecord('running', {
    lastStep: 'training',
    resources: { ...runRecord('running').resources, launchedAt: Math.floor(Date.now() / 1000) - 60, safetyStopHours: 24 },
  });
  await app.open(scenario({ results: signedIn({ list_runs: [rec], run_live_status: LIVE_ACTIVE }) }), `#/runs/${RUN_ID}`);
  await expect(page.getByTestId('cost-so-far')).toContainText('price unknown');
  await expect(page.getByTestId('cost-at-most')).toContainText('The machine stops itself at');
});

function historyRuns(): RunRecord[] {
  const base = runRecord('succeeded');
  return [
    runRecord('succeeded', {
      runId: 'r-1',
      createdAt: '2026-11-20T09:00:00Z',
      resources: { ...base.resources, runId: 'r-1', launchedAt: 1_795_000_000, endedAt: 1_795_000_000 + 1800 },
      cost: { usd: 0.0255, usdPerHour: 0.051, hours: 0.5, growing: false, spotSavedUsd: null },
    }),
    runRecord('failed', {
      runId: 'r-2',
      createdAt: '2026-11-21T09:00:00Z',
      cleanup: 'deleted',
      request: { ...REQUEST, scriptPath: '/home/marie/project/prepare_data.py' },
      cost: null,
    }),
    runRecord('running', {
      runId: 'r-3',
      createdAt: '2026-11-22T09:00:00Z',
      request: { ...REQUEST, instanceType: 'g4dn.xlarge', scriptPath: '/home/marie/project/finetune.py' },
      resources: { ...base.resources, runId: 'r-3', launchedAt: Math.floor(Date.now() / 1000) - 7200 },
      cost: { usd: 1.47, usdPerHour: 0.737, hours: 2, growing: true, spotSavedUsd: null },
    }),
  ];
}

test('History: script, duration, cost (so far), month total, filter by result and search by script name', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn({
        list_runs: historyRuns(),
        refresh_runs: {
          statuses: [{ runId: 'r-3', stackStatus: 'CREATE_COMPLETE', instanceState: 'running' }],
          calls: 2,
          failures: ['Work in us-east-1: AWS did not answer (timeout)'],
        },
        month_costs: [{ accountId: 'acc-1', month: '2026-11', usd: 1.4955, runs: 3, growing: true }],
      }),
    }),
  );
  const rows = page.getByTestId('run-row');
  await expect(rows).toHaveCount(3);
  await expect(rows.nth(0).getByTestId('run-row-script')).toHaveText('finetune.py');
  await expect(rows.nth(0).getByTestId('run-row-cost')).toHaveText(/\$1\.47\s*so far/);
  await expect(rows.nth(0).getByTestId('run-row-duration')).toHaveText('2 h 00 min');
  await expect(rows.nth(0).getByTestId('run-row-cloud')).toHaveText('machine (running) + cloud resources');
  await expect(rows.nth(1).getByTestId('run-row-cost')).toHaveText('—');
  await expect(rows.nth(2).getByTestId('run-row-cost')).toHaveText('$0.0255');
  await expect(rows.nth(2).getByTestId('run-row-duration')).toHaveText('30 min 00 s');
  await expect(page.getByTestId('month-cost')).toContainText('Work · November 2026: $1.50 so far for 3 runs');
  await expect(page.getByTestId('refresh-failures')).toContainText('Work in us-east-1');
  expect(await app.calls('refresh_runs')).toHaveLength(1);
  expect(await app.calls('run_live_status')).toHaveLength(0);
  await axe(page, 'history');
  await app.shot('94-history-costs');

  await page.getByLabel('Show runs by result').selectOption('failed');
  await expect(rows).toHaveCount(1);
  await expect(rows.first().getByTestId('run-row-script')).toHaveText('prepare_data.py');
  await page.getByLabel('Show runs by result').selectOption('all');
  await page.getByLabel('Search by script name').fill('FINE');
  await expect(rows).toHaveCount(1);
  await expect(page.getByTestId('runs-count')).toHaveText('1 of 3 runs');
  await page.getByLabel('Search by script name').fill('nothing-like-this');
  await expect(page.getByTestId('runs-none')).toContainText('No run matches “nothing-like-this”');
});

test('History with 1,000 runs: only the visible rows are in the page (prints render and filter times)', async ({ page, app }) => {
  const base = runRecord('succeeded');
  const outcomes = ['succeeded', 'failed', 'stopped'] as const;
  const runs: RunRecord[] = Array.from({ length: 1000 }, (_, i) =>
    runRecord(outcomes[i % 3] ?? 'succeeded', {
      runId: `r-${String(i).padStart(4, '0')}`,
      createdAt: new Date(Date.UTC(2026, 0, 1) + i * 3_600_000).toISOString(),
      cleanup: 'deleted',
      request: { ...REQUEST, scriptPath: `/home/marie/project/${i % 10 === 0 ? 'prepare' : 'train'}_${i}.py` },
      resources: { ...base.resources, runId: `r-${i}`, launchedAt: 1_790_000_000 + i * 3600, endedAt: 1_790_000_000 + i * 3600 + 600 },
      cost: { usd: 0.0085 + i / 10_000, usdPerHour: 0.051, hours: 1 / 6, growing: false, spotSavedUsd: null },
    }),
  );
  const t0 = Date.now();
  await app.open(scenario({ results: signedIn({ list_runs: runs, refresh_runs: { statuses: [], calls: 2, failures: [] } }) }));
  await expect(page.getByTestId('runs-count')).toHaveText('1000 runs');
  const rendered = Date.now() - t0;
  const inPage = await page.getByTestId('run-row').count();
  expect(inPage).toBeLessThan(60);
  // Scrolling to the end brings the oldest run into the page.
  await page.getByTestId('runs-scroller').evaluate((el) => (el.scrollTop = el.scrollHeight));
  await expect(page.getByTestId('run-row-script').filter({ hasText: 'train_1.py' })).toBeVisible();
  const t1 = Date.now();
  await page.getByLabel('Search by script name').fill('prepare');
  await expect(page.getByTestId('runs-count')).toHaveText('100 of 1000 runs');
  const filtered = Date.now() - t1;
  const t2 = Date.now();
  await page.getByLabel('Show runs by result').selectOption('failed');
  await expect(page.getByTestId('runs-count')).toHaveText('33 of 1000 runs');
  const filtered2 = Date.now() - t2;
  console.log(
    `history with 1000 runs: list shown in ${rendered} ms (page open included), ${inPage} rows in the page; search filter ${filtered} ms; result filter ${filtered2} ms`,
  );
});

test('Forgotten resources: find, delete one, delete all (outputs kept), then nothing', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn({ list_runs: [runRecord('succeeded')], run_live_status: LIVE_GONE, find_leftovers: scanOf(LEFTOVERS) }),
      streams: {
        delete_leftover: [
          { kind: 'step', step: 'delete', state: 'running', elapsedMs: 0, message: 'Terminating the machine', detail: null },
        ],
      },
      delays: { delete_leftover: 200 },
    }),
  );
  await page.getByRole('button', { name: 'Check for forgotten resources' }).click();
  const rows = page.getByTestId('leftover-row');
  await expect(rows).toHaveCount(2);
  expect((await app.calls('find_leftovers'))[0]?.args).toEqual({ accountId: 'acc-1' });
  await expect(rows.nth(0)).toContainText('Machine (EC2 instance)');
  await expect(rows.nth(0)).toContainText('g4dn.xlarge, running');
  await expect(rows.nth(0)).toContainText('Europe (Paris) — eu-west-3');
  await expect(rows.nth(0).getByTestId('leftover-cost')).toHaveText('$538.01/month');
  await expect(rows.nth(1).getByTestId('leftover-cost')).toHaveText('—');
  await expect(page.getByTestId('leftovers-summary')).toContainText('Found 2 forgotten resources');
  await axe(page, 'leftovers');
  await app.shot('95-leftovers-found');

  await rows
    .nth(0)
    .getByRole('button', { name: /Delete/ })
    .click();
  const dialog = page.getByRole('dialog');
  await expect(dialog).toContainText('Outputs are kept');
  await app.shot('96-leftovers-confirm');
  await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
  await expect(rows).toHaveCount(1);
  const del = (await app.calls('delete_leftover'))[0]?.args;
  expect(del).toMatchObject({ accountId: 'acc-1', region: LEFTOVERS[0]!.region, id: LEFTOVERS[0]!.id });
  expect(String(del?.onEvent)).toMatch(/^channel:/);
  expect(await app.calls('find_leftovers')).toHaveLength(2);

  await page.getByRole('button', { name: 'Delete all' }).click();
  await expect(page.getByRole('dialog')).toContainText('Outputs are kept');
  await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByTestId('leftovers-none')).toHaveText(
    '✓ Nothing forgotten: no easyTDV machine, stack, disk or input files outside this history.',
  );
  await app.shot('97-leftovers-none');
});

test('Forgotten resources: a failed check says why and what to do', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn({ list_runs: [runRecord('succeeded')] }),
      errors: {
        find_leftovers: {
          code: 'access_denied',
          message: 'AWS refused to list the machines in eu-west-3 (ec2:DescribeInstances).',
          hint: 'Add the permissions easyTDV needs to your AWS user (Accounts → Permissions easyTDV needs), then check again.',
        },
      },
    }),
  );
  await page.getByRole('button', { name: 'Check for forgotten resources' }).click();
  const err = page.getByRole('alert').filter({ hasText: 'The check did not finish' });
  await expect(err).toContainText('ec2:DescribeInstances');
  await expect(err).toContainText('then check again');
});

test('Forgotten resources: a region the organisation closed and an unreadable bucket are rows of their own, the rest is listed', async ({
  page,
  app,
}) => {
  await app.open(
    scenario({
      results: signedIn({
        list_runs: [runRecord('succeeded')],
        find_leftovers: {
          leftovers: [LEFTOVERS[0]!],
          failures: [
            {
              region: 'eu-north-1',
              bucket: null,
              code: 'access_denied',
              message:
                'your AWS user is not allowed to list the stacks: User: arn:aws:iam::123456789012:user/dev is not authorized to perform: cloudformation:ListStacks with an explicit deny in a service control policy',
              hint: "Your organisation's policies (service control policies) close eu-north-1 to this account: nothing of easyTDV can have been made there since. Ask your AWS administrator if you need it checked.",
            },
            {
              region: 'us-west-2',
              bucket: 'easytdv-123456789012-us-west-2-0a1b2c3d',
              code: 'access_denied',
              message: "your AWS user is not allowed to list the run's files: Access Denied",
              hint: 'Ask your AWS administrator for the permission named above.',
            },
          ],
        },
      }),
    }),
  );
  await page.getByRole('button', { name: 'Check for forgotten resources' }).click();
  const failed = page.getByTestId('leftover-failure-row');
  await expect(failed).toHaveCount(2);
  await expect(page.getByTestId('leftovers-failures')).toContainText('2 places could not be checked');
  await expect(failed.nth(0)).toContainText('The whole region');
  await expect(failed.nth(0)).toContainText('explicit deny in a service control policy');
  await expect(failed.nth(1)).toContainText('Bucket easytdv-123456789012-us-west-2-0a1b2c3d');
  await expect(page.getByTestId('leftover-row')).toHaveCount(1);
  await expect(page.getByTestId('leftovers-summary')).toContainText('Found 1 forgotten resource');
  await axe(page, 'leftovers with failures');
  await app.shot('95b-leftovers-failures');
});

test('Review: keep the machine ready for the next run, with what waiting costs; sent only when chosen', async ({ page, app }) => {
  await app.open(scenario({ results: signedIn() }), '#/new');
  await toMachineStep(page);
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByLabel('Bucket name')).not.toHaveValue('');
  await page.getByRole('button', { name: 'Next' }).click();
  const card = page.getByTestId('keep-warm-card');
  await expect(card).toContainText('Keep the machine ready for your next run');
  await expect(card.getByRole('radio', { name: /^No/ })).toBeChecked();
  await expect(card).toContainText('No — the machine stops a minute after the training');
  await expect(card.getByTestId('keep-warm-cost')).toHaveCount(0);
  await card.getByRole('radio', { name: '30 minutes' }).check();
  // $0.0509/h for half an hour: at most about 2.5 cents.
  await expect(card.getByTestId('keep-warm-cost')).toContainText('keeps billing $0.0509/h — at most $0.0255 if no run comes');
  await expect(card.getByTestId('keep-warm-cost')).toContainText('stops itself after 30 minutes, even with the app closed');
  await axe(page, 'review with keep warm');
  await app.shot('100-review-keep-warm');
  await page.getByRole('button', { name: 'Launch training' }).click();
  await expect(page).toHaveURL(new RegExp(`#/runs/${RUN_ID}$`));
  expect((await app.calls('start_run'))[0]?.args.request).toMatchObject({ keepWarmMinutes: 30 });
});
