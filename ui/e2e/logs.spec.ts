import type { Page } from '@playwright/test';
import { FAILURES, LIVE_ACTIVE, LIVE_RUNNING, RUN_ID, runEvents, runRecord, signedIn } from './data';
import { expect, scenario, test } from './fixtures';
import type { LogLine } from './wire';

const MILLION = 1_000_000;
/** The run, replayed up to "Run your training script" under way. */
const TRAINING = runEvents().slice(0, 9);
const RUNNING = runRecord('running', { lastStep: 'training', cleanup: 'none' });
const INSTALL: LogLine[] = ['Resolved 4 packages in 120ms', 'Installed numpy-1.26.4', 'Installed pandas-2.2.3'].map((text, i) => ({
  atMs: Date.UTC(2026, 10, 26, 14, 30, 10 + i),
  stream: 'out',
  text,
}));

const viewport = (page: Page) => page.getByTestId('log-viewport');
const rows = (page: Page) => viewport(page).locator('.line');
/** Line numbers of the rows in the page. */
async function lineNumbers(page: Page): Promise<number[]> {
  return (await rows(page).evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-line'))))).filter((n) => n > 0);
}
/** The rows that are inside the visible part of the log view. */
async function visibleLineNumbers(page: Page): Promise<number[]> {
  return viewport(page).evaluate((vp) => {
    const box = vp.getBoundingClientRect();
    return [...vp.querySelectorAll<HTMLElement>('.line')]
      .filter((e) => {
        const r = e.getBoundingClientRect();
        return r.bottom > box.top + 1 && r.top < box.bottom - 1;
      })
      .map((e) => Number(e.dataset.line));
  });
}

function bigLog(growth = true) {
  return scenario({
    results: signedIn({ list_runs: [RUNNING], run_live_status: LIVE_ACTIVE, save_log: '/home/marie/easytdv-train.log' }),
    feeds: { [RUN_ID]: TRAINING },
    logs: { [`${RUN_ID}/train`]: { generated: MILLION, errEvery: 97 }, [`${RUN_ID}/install`]: { lines: INSTALL } },
    logGrowth: growth ? [{ runId: RUN_ID, log: 'train', everyMs: 250, batch: 40, ticks: 400, afterMs: 500 }] : [],
  });
}

test('log panel: a million lines, virtualised — follow, scroll to the middle, search next and previous, copy, save', async ({
  page,
  app,
}) => {
  test.setTimeout(60_000);
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await app.open(bigLog(), `#/runs/${RUN_ID}`);
  const panel = page.getByTestId('log-panel');
  await expect(panel.getByRole('tab', { name: /Training/ })).toHaveAttribute('aria-selected', 'true');
  // Following: the newest line is the last one in view, while lines stream in.
  const follow = panel.getByRole('button', { name: 'Follow' });
  await expect(follow).toHaveAttribute('aria-pressed', 'true');
  let seen = 0;
  for (let k = 0; k < 3; k++) {
    await expect.poll(async () => Math.max(...(await visibleLineNumbers(page)))).toBeGreaterThan(Math.max(MILLION, seen));
    // In one look: the last line in view is the newest one the tab counts.
    const { last, count } = await viewport(page).evaluate((vp) => {
      const box = vp.getBoundingClientRect();
      const shown = [...vp.querySelectorAll<HTMLElement>('.line')].filter((e) => e.getBoundingClientRect().bottom <= box.bottom + 1);
      const tab = document.querySelector('[role="tab"][aria-selected="true"] .count')?.textContent ?? '0';
      return { last: Math.max(...shown.map((e) => Number(e.dataset.line))), count: Number(tab.replace(/,/g, '')) };
    });
    expect(last).toBe(count);
    seen = last;
  }
  await expect(rows(page).last()).toContainText(/step \d+ loss=/);
  // Only the rows on screen exist in the page.
  const inDom = await rows(page).count();
  console.log(`log panel: ${inDom} rows in the DOM for a log of ${MILLION.toLocaleString('en-US')}+ lines`);
  expect(inDom).toBeLessThan(60);

  // The JS heap with the million-line log open (printed, not asserted).
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('Performance.enable');
  const { metrics } = await cdp.send('Performance.getMetrics');
  const heap = metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? 0;
  const nodes = metrics.find((m) => m.name === 'Nodes')?.value ?? 0;
  console.log(`log panel: JS heap used ${(heap / 1024 / 1024).toFixed(1)} MiB, ${nodes} DOM nodes, with a 1,000,000-line log open`);
  await app.shot('50-log-million-following');

  // Scroll to the middle: follow turns off, the rows say the line numbers they are, read on demand.
  await viewport(page).evaluate((vp) => {
    vp.scrollTop = (vp.scrollHeight - vp.clientHeight) / 2;
  });
  await expect(follow).toHaveAttribute('aria-pressed', 'false');
  await expect.poll(async () => Math.min(...(await visibleLineNumbers(page)))).toBeGreaterThan(490_000);
  const middle = await visibleLineNumbers(page);
  expect(Math.min(...middle)).toBeLessThan(510_000);
  for (const n of middle.slice(0, 5)) {
    const row = viewport(page).locator(`.line[data-line="${n}"]`);
    await expect(row).toContainText(n % 97 === 0 ? `warning: step ${n} is slow` : `step ${n} loss=`);
    await expect(row.locator('.no')).toHaveText(String(n));
  }
  // stderr lines carry a visible "err" marker, not only a colour.
  const errLine = middle.find((n) => n % 97 === 0);
  if (errLine) await expect(viewport(page).locator(`.line[data-line="${errLine}"] .mark`)).toHaveText('err');
  const reads = (await app.calls('read_log')).map((c) => c.args);
  expect(reads.every((a) => Number(a.count) <= 5000)).toBe(true);
  expect(reads.some((a) => Number(a.from) >= 490_000 && Number(a.from) <= 510_000)).toBe(true);
  await app.shot('51-log-million-middle');

  // The view stays where the user left it while lines keep arriving.
  const before = await visibleLineNumbers(page);
  await page.waitForTimeout(800);
  expect(await visibleLineNumbers(page)).toEqual(before);

  // Search: next from the view (the middle) finds nothing below, so it starts again from the top; then next, next, previous.
  const search = panel.getByLabel('Search the log');
  await search.fill('step 12345');
  const status = panel.getByTestId('log-status');
  const next = panel.getByRole('button', { name: 'Next match' });
  const previous = panel.getByRole('button', { name: 'Previous match' });
  await next.click();
  await expect(status).toHaveText('Line 12,345 (from the start again)');
  await expect(viewport(page).locator('.line.hit')).toHaveAttribute('data-line', '12345');
  await expect(viewport(page).locator('.line.hit mark')).toHaveText('step 12345');
  await next.click();
  await expect(status).toHaveText('Line 123,450');
  await expect(viewport(page).locator('.line.hit')).toHaveAttribute('data-line', '123450');
  await next.click();
  await expect(status).toHaveText('Line 123,451');
  await previous.click();
  await expect(status).toHaveText('Line 123,450');
  await previous.click();
  await expect(status).toHaveText('Line 12,345');
  expect(await visibleLineNumbers(page)).toContain(12345);
  await app.shot('52-log-search-hit');
  // Enter searches too; a word nowhere says so.
  await search.fill('no such words');
  await search.press('Enter');
  await expect(status).toHaveText('No line holds “no such words”.');
  const searches = (await app.calls('search_log')).map((c) => c.args);
  expect(searches[0]).toMatchObject({ runId: RUN_ID, log: 'train', query: 'step 12345', forward: true });

  // Copy the lines on screen; Save log… asks the backend for the whole log.
  await panel.getByRole('button', { name: 'Copy' }).click();
  await expect(panel.getByTestId('log-status')).toContainText(/Copied the \d+ lines on screen/);
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  expect(copied.split('\n')[0]).toMatch(/^step 123\d\d loss=|^warning: step/);
  await panel.getByRole('button', { name: 'Save log…' }).click();
  await expect(panel.getByTestId('log-status')).toHaveText('Saved the whole log to /home/marie/easytdv-train.log');
  expect((await app.calls('save_log'))[0]?.args).toEqual({ runId: RUN_ID, log: 'train' });

  // Follow again: back at the end, keeping up with new lines.
  await follow.click();
  await expect(follow).toHaveAttribute('aria-pressed', 'true');
  await expect.poll(async () => Math.max(...(await visibleLineNumbers(page)))).toBeGreaterThan(MILLION);
  // Memory stays bounded: the panel never asked for more than a window at a time.
  expect((await lineNumbers(page)).length).toBeLessThan(60);
});

test('log panel: the keyboard reaches the tabs and scrolls the log; the install log has its own tab', async ({ page, app }) => {
  await app.open(bigLog(false), `#/runs/${RUN_ID}`);
  const panel = page.getByTestId('log-panel');
  await expect.poll(async () => Math.max(...(await visibleLineNumbers(page)))).toBe(MILLION);
  await viewport(page).focus();
  await page.keyboard.press('Home');
  await expect.poll(async () => Math.min(...(await visibleLineNumbers(page)))).toBe(1);
  await page.keyboard.press('PageDown');
  await expect.poll(async () => Math.min(...(await visibleLineNumbers(page)))).toBeGreaterThan(10);
  await page.keyboard.press('End');
  await expect.poll(async () => Math.max(...(await visibleLineNumbers(page)))).toBe(MILLION);
  // Tabs: arrow keys move between them.
  await panel.getByRole('tab', { name: /Training/ }).focus();
  await page.keyboard.press('ArrowLeft');
  const install = panel.getByRole('tab', { name: /Install your packages/ });
  await expect(install).toBeFocused();
  await expect(install).toHaveAttribute('aria-selected', 'true');
  await expect(rows(page)).toHaveCount(3);
  await expect(rows(page).first()).toContainText('Resolved 4 packages in 120ms');
  // Each line has its local time.
  const t = new Date(Date.UTC(2026, 10, 26, 14, 30, 10));
  const hhmmss = [t.getHours(), t.getMinutes(), t.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  await expect(rows(page).first().locator('.time')).toHaveText(hhmmss);
});

test('log panel: the step under way picks the log, and a new attempt starts it again', async ({ page, app }) => {
  const install = runEvents().slice(0, 7); // "Install your packages" under way
  await app.open(
    scenario({
      results: signedIn({ list_runs: [runRecord('running', { lastStep: 'requirements', cleanup: 'none' })], run_live_status: LIVE_ACTIVE }),
      feeds: { [RUN_ID]: install },
      logs: { [`${RUN_ID}/install`]: { lines: INSTALL } },
      streams: {
        watch_run: [
          { kind: 'logLines', log: 'install', total: 0, lines: [{ atMs: Date.now(), stream: 'err', text: 'warning: pip is old' }] },
          ...runEvents().slice(7, 9),
          { kind: 'logLines', log: 'train', total: 0, lines: [{ atMs: Date.now(), stream: 'out', text: 'epoch 1 loss 0.9' }] },
          { kind: 'logReset', log: 'train' },
          { kind: 'logLines', log: 'train', total: 0, lines: [{ atMs: Date.now(), stream: 'out', text: 'epoch 1 loss 0.8 (again)' }] },
        ],
      },
      watchGoesOnAfterMs: 1200,
      streamDelayMs: 400,
    }),
    `#/runs/${RUN_ID}`,
  );
  const panel = page.getByTestId('log-panel');
  await expect(panel.getByRole('tab', { name: /Install your packages/ })).toHaveAttribute('aria-selected', 'true');
  await expect(rows(page)).toHaveCount(3);
  await expect(rows(page)).toHaveCount(4);
  await expect(rows(page).last()).toHaveClass(/err/);
  // Training starts: its log is shown.
  await expect(panel.getByRole('tab', { name: /Training/ })).toHaveAttribute('aria-selected', 'true');
  await expect(rows(page).first()).toContainText('epoch 1 loss 0.8 (again)');
  await expect(rows(page)).toHaveCount(1);
});

test('failed run: the traceback is highlighted in the log and the failure names the line of train.py', async ({ page, app }) => {
  const tb = [
    'Traceback (most recent call last):',
    '  File "/opt/easytdv/run/train.py", line 7, in <module>',
    '    import six',
    "ModuleNotFoundError: No module named 'six'",
  ];
  const lines: LogLine[] = [
    ...Array.from({ length: 40 }, (_, i) => ({
      atMs: Date.UTC(2026, 10, 26, 14, 35, i),
      stream: 'out' as const,
      text: `epoch ${i + 1} loss ${(1 / (i + 1)).toFixed(3)}`,
    })),
    ...tb.map((text) => ({ atMs: Date.UTC(2026, 10, 26, 14, 35, 41), stream: 'err' as const, text })),
  ];
  await app.open(
    scenario({
      results: signedIn({
        list_runs: [
          runRecord('failed', {
            lastStep: 'training',
            message: FAILURES.training?.message ?? null,
            // The output tail was cut before the traceback: the failing line comes from the log.
            detail: 'epoch 40 loss 0.025',
          }),
        ],
        run_live_status: LIVE_RUNNING,
      }),
      logs: { [`${RUN_ID}/train`]: { lines }, [`${RUN_ID}/install`]: { lines: INSTALL } },
    }),
    `#/runs/${RUN_ID}`,
  );
  const failure = page.getByTestId('failure');
  await expect(failure.getByTestId('failing-line')).toContainText("train.py line 7: ModuleNotFoundError: No module named 'six'");
  const panel = page.getByTestId('log-panel');
  await expect(panel.getByRole('tab', { name: /Training/ })).toHaveAttribute('aria-selected', 'true');
  await failure.getByRole('button', { name: 'Show in the log' }).click();
  await expect(viewport(page).locator('.line.tb')).toHaveCount(4);
  await expect(viewport(page).locator('.line.tb-end')).toContainText("ModuleNotFoundError: No module named 'six'");
  await expect(viewport(page).locator('.line.hit')).toHaveAttribute('data-line', '41');
  await expect(viewport(page).locator('.line.tb').first()).toBeInViewport();
  await app.shot('53-run-failed-traceback');
});
