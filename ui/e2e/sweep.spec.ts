import type { Page } from '@playwright/test';
import type { RunRecord, SweepPlan, SweepView } from '../src/lib/api';
import { REQUEST, runRecord, signedIn } from './data';
import { expect, pickCode, scenario, test } from './fixtures';

const SWEEP_ID = 'sweep-20261207-101500-abc123';

async function toReview(page: Page) {
  await pickCode(page);
  for (let i = 0; i < 3; i++) await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByRole('heading', { name: 'Review and launch' })).toBeVisible();
}

const PLAN: SweepPlan = {
  runs: ['0.1', '0.01', '0.001'].map((lr) => ({ label: `lr=${lr}`, args: ['--lr', lr], argsText: `--lr ${lr}` })),
  budgetPerRun: 2,
  atOnce: 3,
};

test('Review step: a sweep lists its runs and the price of the whole sweep, and launches as one', async ({ page, app }) => {
  await app.open(scenario({ results: signedIn({ plan_sweep: PLAN, start_sweep: SWEEP_ID }) }), '#/new');
  await toReview(page);
  await page.getByLabel('Budget cap ($, optional)').fill('6');
  const card = page.getByTestId('sweep-card');
  await card.getByTestId('sweep-on').check();
  await card.getByTestId('sweep-grid').fill('lr = 0.1, 0.01, 0.001');
  await expect(card.getByTestId('sweep-runs').locator('li')).toHaveCount(3);
  await expect(card.getByTestId('sweep-total')).toContainText('3 runs, 3 at a time');
  // $6 for three runs: each stops itself at $2 (under its 24 h at about $0.05/hour: 24 h × 3 runs).
  await expect(card.getByTestId('sweep-total')).toContainText('for the whole sweep');
  await expect(card.getByTestId('sweep-budget')).toContainText('each run stops itself when it has spent $2.00');
  const planned = (await app.calls('plan_sweep')).at(-1)?.args.request as Record<string, unknown>;
  expect(planned.values).toEqual({ kind: 'grid', axes: [{ name: 'lr', values: ['0.1', '0.01', '0.001'] }] });
  expect(planned.mode).toEqual({ kind: 'parallel', atOnce: 4 });
  await card.scrollIntoViewIfNeeded();
  await app.shot('106-review-sweep');

  await card.getByTestId('sweep-one-machine').check();
  await expect
    .poll(async () => ((await app.calls('plan_sweep')).at(-1)?.args.request as { mode: unknown }).mode)
    .toEqual({ kind: 'oneMachine' });
  await page.getByRole('button', { name: 'Launch the sweep' }).click();
  await expect(page).toHaveURL(new RegExp(`#/sweeps/${SWEEP_ID}$`));
  const started = (await app.calls('start_sweep'))[0]?.args as { request: { base: Record<string, unknown>; mode: unknown } };
  expect(started.request.base).toMatchObject({ scriptPath: REQUEST.scriptPath, budgetUsd: 6 });
  expect(started.request.mode).toEqual({ kind: 'oneMachine' });
  expect(await app.calls('start_run')).toEqual([]);
});

test('Review step: values the backend refuses are told in the card and nothing is launched', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn(),
      errors: {
        plan_sweep: { code: 'sweep_bad_name', message: '"l r" is not an argument name: write it without dashes, like lr', hint: null },
      },
    }),
    '#/new',
  );
  await toReview(page);
  const card = page.getByTestId('sweep-card');
  await card.getByTestId('sweep-on').check();
  await card.getByTestId('sweep-grid').fill('l r = 1, 2');
  await expect(card.getByTestId('sweep-error')).toContainText('is not an argument name');
  await card.getByTestId('sweep-grid').fill('lr 1 2');
  await expect(card.getByTestId('sweep-error')).toContainText('Line 1: write it as name = value');
  await page.getByRole('button', { name: 'Launch the sweep' }).click();
  expect(await app.calls('start_sweep')).toEqual([]);
});

function run(i: number, outcome: RunRecord['outcome'], metrics: Record<string, number> | null, usd: number): RunRecord {
  const id = `2026120${i}-101500-00000${i}`;
  return runRecord(outcome, {
    runId: id,
    sweepId: SWEEP_ID,
    request: { ...REQUEST, args: ['--lr', PLAN.runs[i]?.args[1] ?? ''] } as RunRecord['request'],
    summary: metrics ? ({ finalMetrics: metrics, phases: [] } as unknown as RunRecord['summary']) : null,
    cost: { usd, usdPerHour: 0.05, hours: usd / 0.05, growing: outcome === 'running', spotSavedUsd: null },
  });
}

function sweepView(live: boolean): SweepView {
  const runs = [
    run(0, 'succeeded', { loss: 0.42, acc: 0.81 }, 0.012),
    run(1, 'succeeded', { loss: 0.21, acc: 0.93 }, 0.011),
    run(2, 'failed', null, 0.004),
  ];
  return {
    sweep: {
      sweepId: SWEEP_ID,
      createdAt: '2026-12-07T10:15:00Z',
      accountId: 'acc-1',
      request: {
        base: REQUEST,
        values: { kind: 'grid', axes: [{ name: 'lr', values: ['0.1', '0.01', '0.001'] }] },
        mode: { kind: 'parallel', atOnce: 3 },
        stopOnFailure: false,
      },
      plan: PLAN,
      runIds: runs.map((r) => r.runId),
      stopped: false,
      bestBy: null,
    },
    runs,
    live,
    metrics: ['acc', 'loss'],
    bestBy: { metric: 'loss', lowerIsBetter: true },
    best: { runId: runs[1]?.runId ?? '', value: 0.21 },
    costUsd: 0.027,
    costGrowing: false,
  } as SweepView;
}

test('sweep page: every run with its result, cost and metrics, sortable; the best named; one button for all', async ({ page, app }) => {
  const view = sweepView(false);
  const byAcc = { ...view, bestBy: { metric: 'acc', lowerIsBetter: false } };
  await app.open(
    scenario({ results: signedIn({ sweep_view: view, set_sweep_metric: byAcc, retry_sweep: null, delete_sweep: ['a', 'b', 'c'] }) }),
    `#/sweeps/${SWEEP_ID}`,
  );
  await expect(page.getByRole('heading', { name: 'Sweep of 3 runs' })).toBeVisible();
  const summary = page.getByTestId('sweep-summary');
  await expect(summary).toContainText('2 succeeded');
  await expect(summary).toContainText('1 failed or stopped');
  await expect(page.getByTestId('sweep-best')).toContainText('Best run: lr=0.01 — loss 0.21 (loss, lowest wins)');
  const rows = page.getByTestId('sweep-row');
  await expect(rows).toHaveCount(3);
  await expect(rows.nth(1)).toContainText('best');
  // Sorted by loss: lowest first, the run without it last.
  await page.getByRole('button', { name: 'loss' }).click();
  await expect(rows.nth(0)).toContainText('lr=0.01');
  await expect(rows.nth(2)).toContainText('lr=0.001');
  await page.getByRole('button', { name: 'loss' }).click();
  await expect(rows.nth(0)).toContainText('lr=0.1');
  await expect(rows.nth(2)).toContainText('lr=0.001');
  await app.shot('107-sweep-page');

  await page.getByTestId('sweep-metric').selectOption('acc');
  expect((await app.calls('set_sweep_metric')).at(-1)?.args).toEqual({
    sweepId: SWEEP_ID,
    bestBy: { metric: 'acc', lowerIsBetter: false },
  });
  await expect(page.getByTestId('sweep-direction')).toHaveValue('high');
  // Nothing runs: retry the failed one, compare all curves, run again with the best values.
  await page.getByTestId('sweep-retry').click();
  await expect(page.getByTestId('sweep-notice')).toContainText('starting again');
  expect((await app.calls('retry_sweep'))[0]?.args).toEqual({ sweepId: SWEEP_ID });
  await expect(page.getByTestId('sweep-again')).toHaveAttribute('href', `#/new/${view.runs[1]?.runId}`);
  await page.getByTestId('sweep-delete').click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete all' }).click();
  await expect(page.getByTestId('sweep-notice')).toContainText('Deleted what 3 runs had in the cloud');
  await page.getByTestId('sweep-compare').click();
  await expect(page).toHaveURL(/#\/compare\/20261200-.*,20261201-.*,20261202-/);
});

test('sweep page: while it runs, Stop all stops every run and the rest never start', async ({ page, app }) => {
  const view = sweepView(true);
  const runs = view.runs.map((r, i) => (i === 2 ? null : r));
  const live = { ...view, runs, sweep: { ...view.sweep, runIds: [view.sweep.runIds[0] ?? null, view.sweep.runIds[1] ?? null, null] } };
  await app.open(scenario({ results: signedIn({ sweep_view: live, stop_sweep: ['r1'] }) }), `#/sweeps/${SWEEP_ID}`);
  await expect(page.getByTestId('sweep-row').nth(2)).toContainText('Waiting its turn');
  await expect(page.getByTestId('sweep-summary')).toContainText('1 waiting');
  await page.getByTestId('sweep-stop').click();
  await expect(page.getByTestId('sweep-notice')).toContainText('Stopped 1 run; the others will not start');
  expect((await app.calls('stop_sweep'))[0]?.args).toMatchObject({ sweepId: SWEEP_ID });
});

test('Runs screen: a sweep is one row that opens its page; its runs are not rows of the table', async ({ page, app }) => {
  const view = sweepView(false);
  const alone = runRecord('succeeded');
  await app.open(
    scenario({
      results: signedIn({ list_runs: [...view.runs.flatMap((r) => (r ? [r] : [])), alone], list_sweeps: [view.sweep], sweep_view: view }),
    }),
    '#/runs',
  );
  const row = page.getByTestId('sweep-list-row');
  await expect(row).toHaveCount(1);
  await expect(row).toContainText('Sweep of 3 runs');
  await expect(row).toContainText('2 succeeded · 1 failed or stopped · $0.027');
  await expect(page.getByTestId('run-row')).toHaveCount(1);
  await app.shot('108-runs-sweep-row');
  await row.getByRole('link').click();
  await expect(page).toHaveURL(new RegExp(`#/sweeps/${SWEEP_ID}$`));
  await expect(page.getByRole('heading', { name: 'Sweep of 3 runs' })).toBeVisible();
});
