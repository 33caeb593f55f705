import { LIVE_ACTIVE, LIVE_GONE, REQUEST, RUN_ID, runEvents, runRecord, signedIn } from './data';
import { expect, scenario, test } from './fixtures';
import type { MetricPoint, MockEvent } from './wire';

const TRAINING = runEvents().slice(0, 9);
const T0 = Date.UTC(2026, 10, 26, 14, 35, 0);
const loss = (step: number) => Number((1 / step).toFixed(4));
const point = (name: string, step: number, value: number): MetricPoint => ({ name, value, step, atMs: T0 + step * 1000 });

test('run view: the charts start from run_metrics and grow live from the metrics events; hovering shows values', async ({ page, app }) => {
  const live: MockEvent[] = [];
  for (let step = 4; step <= 12; step++)
    live.push({
      kind: 'metrics',
      points: [point('loss', step, loss(step)), point('accuracy', step, Number((0.5 + step / 30).toFixed(3)))],
    });
  await app.open(
    scenario({
      results: signedIn({
        list_runs: [runRecord('running', { lastStep: 'training', cleanup: 'none' })],
        run_live_status: LIVE_ACTIVE,
        run_metrics: [{ name: 'loss', byStep: true, x: [1, 2, 3], y: [1, 0.5, 0.3333] }],
      }),
      feeds: { [RUN_ID]: TRAINING },
      logs: { [`${RUN_ID}/train`]: { generated: 20_000, startMs: T0 } },
      logGrowth: [{ runId: RUN_ID, log: 'train', everyMs: 300, batch: 3, ticks: 60 }],
      streams: { watch_run: live },
      watchGoesOnAfterMs: 800,
      streamDelayMs: 350,
    }),
    `#/runs/${RUN_ID}`,
  );
  const chart = page.getByTestId('chart-loss');
  await expect(chart).toHaveAttribute('data-points', '3');
  await expect(chart).toContainText('latest 0.3333 at step 3');
  // Points arrive: the curve grows, and a second metric gets its own chart.
  const count = async () => Number(await chart.getAttribute('data-points'));
  await expect.poll(count).toBeGreaterThan(3);
  await expect.poll(count).toBeGreaterThan(5);
  await expect(page.getByTestId('chart-accuracy')).toBeVisible();
  await expect(chart).toHaveAttribute('data-points', '12', { timeout: 8000 });
  await expect(chart).toContainText('latest 0.0833 at step 12');
  expect((await app.calls('run_metrics')).map((c) => c.args)).toEqual([{ runId: RUN_ID }]);
  // Loss comes first.
  const names = await page
    .getByTestId('charts')
    .locator('figure')
    .evaluateAll((fs) => fs.map((f) => f.getAttribute('data-testid')));
  expect(names).toEqual(['chart-loss', 'chart-accuracy']);

  // Hover: the legend shows the values under the pointer.
  const over = chart.locator('.u-over');
  await over.scrollIntoViewIfNeeded();
  const box = await over.boundingBox();
  if (!box) throw new Error('no chart area');
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
  const values = chart.locator('.u-legend .u-value');
  await expect(values.nth(0)).toHaveText(/^\d+$/); // the step under the pointer
  await expect(values.nth(1)).toHaveText(/^0\.\d+$/);
  await app.shot('54-run-running-log-and-charts');
});

const RUN_B = '20261127-091500-d4e5f6';

test('runs list: final metrics per run; tick two runs and Compare overlays their curves', async ({ page, app }) => {
  const a = runRecord('succeeded', {
    summary: {
      phases: [],
      python: '3.12.8',
      installer: 'uv 0.9.2',
      environment: null,
      preinstalled: null,
      shutdownNotice: null,
      keptWarmUntil: null,
      latestLine: 'epoch 10 loss 0.100 accuracy 0.91',
      finalMetrics: { loss: 0.1, accuracy: 0.91, lr: 0.001, epoch_time: 12.5 },
    },
  });
  const b = runRecord('succeeded', {
    runId: RUN_B,
    createdAt: '2026-11-27T09:15:00Z',
    request: { ...REQUEST, instanceType: 'g4dn.xlarge' },
    summary: {
      phases: [],
      python: '3.12.8',
      installer: null,
      environment: null,
      preinstalled: null,
      shutdownNotice: null,
      keptWarmUntil: null,
      latestLine: null,
      finalMetrics: { loss: 0.05, accuracy: 0.95 },
    },
  });
  const curve = (f: (s: number) => number, n: number) => ({
    x: Array.from({ length: n }, (_, i) => i + 1),
    y: Array.from({ length: n }, (_, i) => f(i + 1)),
  });
  await app.open(
    scenario({
      results: signedIn({ list_runs: [b, a], run_live_status: LIVE_GONE }),
      sequences: {
        run_metrics: [
          [
            { name: 'loss', byStep: true, ...curve((s) => 1 / s, 10) },
            { name: 'accuracy', byStep: true, ...curve((s) => 0.5 + s / 25, 10) },
          ],
          [
            { name: 'loss', byStep: true, ...curve((s) => 0.8 / s, 20) },
            { name: 'accuracy', byStep: true, ...curve((s) => 0.6 + s / 60, 20) },
            { name: 'gpu_mem', byStep: false, x: [1.5, 3, 4.5], y: [3.1, 3.2, 3.2] },
          ],
        ],
      },
    }),
  );
  const rowA = page.getByTestId('run-row').filter({ hasText: 't3.medium' });
  await expect(rowA.getByTestId('run-row-metrics')).toHaveText('loss 0.1 · accuracy 0.91 · epoch_time 12.5 · +1 more');
  const compare = page.getByTestId('compare-button');
  await expect(compare).toBeDisabled();
  await rowA.getByRole('checkbox').check();
  await expect(compare).toBeDisabled();
  await page.getByTestId('run-row').filter({ hasText: 'g4dn.xlarge' }).getByRole('checkbox').check();
  await expect(compare).toHaveText('Compare 2 runs');
  await app.shot('55-runs-list-metrics-selected');
  await compare.click();
  await expect(page).toHaveURL(new RegExp(`#/compare/${RUN_ID},${RUN_B}$`));
  await expect(page.getByRole('heading', { name: 'Compare runs' })).toBeVisible();
  await expect(page.getByTestId('compare-run')).toHaveCount(2);
  await expect(page.getByTestId('compare-run').nth(1)).toContainText('g4dn.xlarge');
  const lossChart = page.getByTestId('chart-loss');
  await expect(lossChart).toHaveAttribute('data-lines', '2');
  await expect(lossChart).toHaveAttribute('data-points', '20'); // steps 1..20, the union of both runs
  // One legend entry per run, with the run's label.
  await expect(lossChart.locator('.u-legend .u-series')).toHaveCount(3); // the x axis, then each run
  await expect(lossChart.locator('.u-legend')).toContainText('t3.medium');
  await expect(lossChart.locator('.u-legend')).toContainText('g4dn.xlarge');
  // A metric only one run printed says so.
  await expect(page.getByTestId('chart-gpu_mem')).toContainText('in 1 of 2 runs');
  expect((await app.calls('run_metrics')).map((c) => c.args)).toEqual([{ runId: RUN_ID }, { runId: RUN_B }]);
  await app.shot('56-compare-two-runs');
});
