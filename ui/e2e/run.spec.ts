import type { Page } from '@playwright/test';
import {
  DELETE_REPORT,
  DOWNLOAD_REPORT,
  FAILURES,
  LIVE_ACTIVE,
  LIVE_GONE,
  LIVE_RUNNING,
  LIVE_STACK,
  LIVE_STARTING,
  OUTPUTS_URI,
  REQUEST,
  RUN_ID,
  RUN_STEPS,
  SANDBOX_ACCOUNT,
  KEYS_ACCOUNT,
  STOPPED_MESSAGE,
  deleteEvents,
  runEvents,
  runRecord,
  signedIn,
  stoppedEvent,
} from './data';
import { expect, scenario, test, pickCode } from './fixtures';

async function launch(page: Page) {
  await pickCode(page);
  for (let i = 0; i < 3; i++) await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Launch training' }).click();
  await expect(page).toHaveURL(new RegExp(`#/runs/${RUN_ID}$`));
}

const RUNNING_RECORD = runRecord('running', { lastStep: 'prepare', cleanup: 'none' });

test('run view: live progress with a refreshed cloud status, success, then the automatic clean-up', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn({ list_runs: [RUNNING_RECORD] }),
      // What AWS says over time: nothing yet, the stack being created, then the machine.
      sequences: { run_live_status: [LIVE_STARTING, LIVE_STACK, LIVE_ACTIVE] },
      thenStreamed: { start_run: { run_live_status: LIVE_GONE, list_runs: [runRecord('succeeded')] } },
      streams: { start_run: runEvents() },
      streamDelayMs: 300,
    }),
    '#/new',
  );
  await launch(page);
  // Mid-run: a step is in progress, and the page never claims nothing exists.
  await expect(page.locator('[data-state="running"]')).toHaveCount(1);
  await expect(page.getByTestId('run-status')).toHaveText('Running');
  await expect(page.getByTestId('leftovers')).not.toHaveText(/^Nothing:/);
  await expect(page.getByRole('button', { name: 'Stop and delete' })).toBeVisible();
  await expect(page.locator('[data-step="delete"]')).toHaveAttribute('data-state', 'pending');
  await expect(page.locator('[data-step="delete"]')).toContainText('Clean up');
  // The status is asked again as the steps move on (throttled), so the stack shows up.
  await expect(page.getByTestId('leftovers')).toContainText('cloud resources', { timeout: 6000 });
  await app.shot('40-run-in-progress');
  expect((await app.calls('run_live_status')).length).toBeGreaterThanOrEqual(2);

  await expect(page.getByTestId('success')).toBeVisible({ timeout: 8000 });
  for (const step of RUN_STEPS) await expect(page.locator(`[data-step="${step}"]`)).toHaveAttribute('data-state', 'done');
  await expect(page.locator('[data-step="training"]')).toContainText('train.py finished: accuracy 0.93');
  await expect(page.locator('[data-step="stack"]')).toContainText('Cloud resources are ready');
  // Then the app deletes the machine and the stack by itself: the last row.
  await expect(page.locator('[data-step="delete"]')).toHaveAttribute('data-state', 'done', { timeout: 6000 });
  await expect(page.getByTestId('run-status')).toHaveText('Finished · cleaned up');
  await expect(page.getByTestId('cleaned-up')).toContainText('nothing of this run is left billing');
  await expect(page.getByTestId('outputs-uri')).toHaveText(OUTPUTS_URI);
  await expect(page.getByTestId('outputs-help')).toContainText(`aws s3 sync ${OUTPUTS_URI} .`);
  await expect(page.getByTestId('leftovers')).toContainText('Nothing: the machine and what the run created were deleted');
  await expect(page.getByRole('button', { name: 'Stop and delete' })).toHaveCount(0);
  await expect(page.getByTestId('success').getByRole('button', { name: 'Delete resources' })).toHaveCount(0);
  await app.shot('41-run-succeeded-cleaned-up');
});

test('run view: Stop and delete an active run keeps what it did and deletes the rest', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn({ list_runs: [RUNNING_RECORD], run_live_status: LIVE_ACTIVE, delete_run: DELETE_REPORT }),
      streams: { start_run: runEvents(), delete_run: deleteEvents() },
      // The run stays in "requirements" long enough to be stopped there, then would go on.
      streamHolds: { start_run: { after: 7, ms: 8000 } },
      // The mock backend records the stop (outcome "stopped") and the clean-up in list_runs, as the backend does.
      thenStreamed: { delete_run: { run_live_status: LIVE_GONE } },
      streamDelayMs: 250,
    }),
    '#/new',
  );
  await launch(page);
  await expect(page.locator('[data-step="requirements"]')).toHaveAttribute('data-state', 'running', { timeout: 6000 });
  await page.getByRole('button', { name: 'Stop and delete' }).click();
  const dialog = page.getByRole('dialog', { name: 'Stop this run and delete its resources?' });
  await expect(dialog).toContainText('deletes the machine');
  await expect(dialog).toContainText('what the run created and the uploaded inputs');
  await expect(dialog).toContainText('written to the bucket so far are kept');
  await app.shot('42-run-stop-confirm');
  await dialog.getByRole('button', { name: 'Stop and delete' }).click();

  // The step that was running when the user stopped: stopped, not failed.
  const stoppedAt = page.locator('[data-state="stopped"]');
  await expect(stoppedAt).toHaveCount(1);
  await expect(stoppedAt).toHaveAttribute('data-step', 'requirements');
  await expect(stoppedAt).toContainText('Stopped by you before it finished.');
  await expect(page.locator('[data-state="failed"]')).toHaveCount(0);
  await expect(page.locator('[data-step="delete"]')).toHaveAttribute('data-state', 'done');
  await expect(page.getByTestId('run-status')).toHaveText('Stopped · cleaned up');
  const failure = page.getByTestId('failure');
  await expect(failure).toContainText('You stopped this run at “Install your packages”');
  await expect(failure).toContainText('Stopped by you before it finished.');
  await expect(failure.getByRole('button', { name: 'Retry from this step' })).toHaveCount(0);
  await expect(page.getByTestId('deleted')).toContainText('the machine i-0abc123');
  // The run's own events stop: later steps never start.
  await page.waitForTimeout(600);
  await expect(page.locator('[data-step="outputs"]')).toHaveAttribute('data-state', 'pending');
  await expect(page.locator('[data-state="running"]')).toHaveCount(0);
  expect((await app.calls('delete_run'))[0]?.args).toEqual({ runId: RUN_ID, onEvent: expect.stringMatching(/^channel:/) });
  // Opened again from the list: the same, from the history.
  await page.getByRole('link', { name: '← All runs' }).click();
  await expect(page.getByTestId('run-row-status')).toHaveText('Stopped · cleaned up');
  await page.getByRole('link', { name: /Open/ }).click();
  await expect(page.getByTestId('run-status')).toHaveText('Stopped · cleaned up');
  await expect(page.locator('[data-step="requirements"]')).toHaveAttribute('data-state', 'stopped');
  await app.shot('43-run-stopped-deleted');
});

test('run view: Download outputs shows its progress, says what was saved, and opens the folder', async ({ page, app }) => {
  const MB = 1024 * 1024;
  await app.open(
    scenario({
      results: signedIn({
        list_runs: [runRecord('succeeded')],
        run_live_status: LIVE_GONE,
        download_outputs: { ...DOWNLOAD_REPORT, files: 300, skipped: 120, bytes: 48 * MB },
        open_folder: null,
      }),
      then: { download_outputs: { download_outputs: null } },
      downloadProgress: [
        { filesDone: 0, filesTotal: 300, bytesDone: 0, bytesTotal: 48 * MB, secondsLeft: null },
        { filesDone: 120, filesTotal: 300, bytesDone: 12 * MB, bytesTotal: 48 * MB, secondsLeft: 150 },
        { filesDone: 210, filesTotal: 300, bytesDone: 36 * MB, bytesTotal: 48 * MB, secondsLeft: 40 },
      ],
      // Each progress state shows this long: long enough to be seen on a busy machine (400 ms was missed under load).
      streamDelayMs: 1200,
    }),
    `#/runs/${RUN_ID}`,
  );
  await expect(page.getByTestId('run-status')).toHaveText('Finished · cleaned up');
  await expect(page.getByTestId('outputs-help')).toContainText('AWS console (S3)');
  await page.getByRole('button', { name: 'Download outputs…' }).click();
  const progress = page.getByTestId('download-progress');
  await expect(progress).toContainText('120 of 300 files · 12 MB of 48 MB · about 3 min left');
  await expect(page.getByRole('progressbar', { name: 'Download progress' })).toHaveAttribute('value', '0.25');
  await app.shot('46-run-outputs-downloading');
  await expect(progress).toContainText('210 of 300 files · 36 MB of 48 MB · about 40 s left');
  const result = page.getByTestId('download-result');
  await expect(result).toContainText(`Saved 300 files (120 already there), 48 MB to ${DOWNLOAD_REPORT.folder}`);
  await expect(progress).toHaveCount(0);
  expect((await app.calls('download_outputs'))[0]?.args).toEqual({ runId: RUN_ID, onProgress: expect.stringMatching(/^channel:/) });
  await result.getByRole('button', { name: 'Open folder' }).click();
  await expect.poll(async () => (await app.calls('open_folder')).map((c) => c.args)).toEqual([{ path: DOWNLOAD_REPORT.folder }]);
  await app.shot('46-run-outputs-downloaded');

  // Second time the user cancels the dialog: the previous message stays, no error.
  await page.getByRole('button', { name: 'Download outputs…' }).click();
  await expect.poll(async () => (await app.calls('download_outputs')).length).toBe(2);
  await expect(page.getByRole('button', { name: 'Download outputs…' })).toBeEnabled();
  await expect(page.getByRole('alert')).toHaveCount(0);
});

test('run view: a notebook run names its executed notebook, and opens it once downloaded', async ({ page, app }) => {
  const folder = DOWNLOAD_REPORT.folder;
  const executed = `${folder}/Train Model.executed.ipynb`;
  await app.open(
    scenario({
      results: signedIn({
        list_runs: [runRecord('succeeded', { request: { ...REQUEST, scriptPath: '/home/marie/project/Train Model.ipynb' } })],
        run_live_status: LIVE_GONE,
        download_outputs: { ...DOWNLOAD_REPORT, executedNotebook: executed },
        open_output_file: null,
      }),
    }),
    `#/runs/${RUN_ID}`,
  );
  await expect(page.getByText(/Everything Train Model\.ipynb wrote to OUTPUT_DIR/)).toBeVisible();
  await expect(page.getByTestId('executed-notebook')).toContainText('Train Model.executed.ipynb');
  // Before the download there is nothing on this computer to open.
  await expect(page.getByRole('button', { name: 'Open the executed notebook' })).toHaveCount(0);
  await page.getByRole('button', { name: 'Download outputs…' }).click();
  const open = page.getByTestId('download-result').getByRole('button', { name: 'Open the executed notebook' });
  await open.click();
  await expect.poll(async () => (await app.calls('open_output_file')).map((c) => c.args)).toEqual([{ path: executed }]);
  await app.shot('47-run-notebook-outputs');
});

test('run view: outputs Windows refuses a name for are saved renamed, and the page says so', async ({ page, app }) => {
  const renamed = [
    'aux.txt was saved as _aux.txt: this computer does not accept that name',
    'plots/epoch:3.png was saved as plots/epoch_3.png: this computer does not accept that name',
  ];
  await app.open(
    scenario({
      results: signedIn({
        list_runs: [runRecord('succeeded')],
        run_live_status: LIVE_GONE,
        run_metrics: [],
        download_outputs: { ...DOWNLOAD_REPORT, folder: 'C:\\Users\\marie\\Downloads\\easytdv-run', renamed },
      }),
    }),
    `#/runs/${RUN_ID}`,
  );
  await page.getByRole('button', { name: 'Download outputs…' }).click();
  await expect(page.getByTestId('download-result')).toContainText('Saved 3 files');
  await expect(page.getByTestId('download-renamed').getByRole('listitem')).toHaveText(renamed);
  await app.shot('105-run-outputs-renamed');
});

test('run view: a script run has no executed notebook to open', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn({
        list_runs: [runRecord('succeeded')],
        run_live_status: LIVE_GONE,
        download_outputs: DOWNLOAD_REPORT,
        open_folder: null,
      }),
    }),
    `#/runs/${RUN_ID}`,
  );
  await expect(page.getByText(/Everything train\.py wrote to OUTPUT_DIR/)).toBeVisible();
  await expect(page.getByTestId('executed-notebook')).toHaveCount(0);
  await page.getByRole('button', { name: 'Download outputs…' }).click();
  await expect(page.getByTestId('download-result')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Open the executed notebook' })).toHaveCount(0);
});

test('run view: cancelling the very first download shows no message', async ({ page, app }) => {
  await app.open(
    scenario({ results: signedIn({ list_runs: [runRecord('succeeded')], run_live_status: LIVE_GONE, download_outputs: null }) }),
    `#/runs/${RUN_ID}`,
  );
  await page.getByRole('button', { name: 'Download outputs…' }).click();
  await expect.poll(async () => (await app.calls('download_outputs')).length).toBe(1);
  await expect(page.getByTestId('download-result')).toHaveCount(0);
  await expect(page.getByRole('alert')).toHaveCount(0);
});

test('run view: a sandbox run says how to copy the outputs from the sandbox, with no AWS console', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn({
        list_accounts: [KEYS_ACCOUNT, SANDBOX_ACCOUNT],
        list_runs: [runRecord('succeeded', { accountId: SANDBOX_ACCOUNT.id })],
        run_live_status: LIVE_GONE,
      }),
    }),
    `#/runs/${RUN_ID}`,
  );
  const help = page.getByTestId('outputs-help');
  await expect(help).toContainText(`aws s3 sync ${OUTPUTS_URI} . --endpoint-url ${SANDBOX_ACCOUNT.endpoint}`);
  await expect(help).toContainText('local sandbox');
  await expect(page.getByText(/AWS console/)).toHaveCount(0);
  await app.shot('45-run-sandbox-outputs');
});

test('run view: a failed run whose resources were deleted still shows why it failed, from the history', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn({
        list_runs: [
          runRecord('failed', {
            lastStep: 'training',
            message: FAILURES.training?.message,
            detail: FAILURES.training?.detail,
            cleanup: 'deleted',
          }),
        ],
        run_live_status: LIVE_GONE,
      }),
    }),
    `#/runs/${RUN_ID}`,
  );
  await expect(page.getByTestId('run-status')).toHaveText('Failed · cleaned up');
  const failure = page.getByTestId('failure');
  await expect(failure).toContainText(FAILURES.training?.message ?? '');
  await expect(failure.getByRole('region', { name: 'Output of the failed step' })).toContainText('ValueError: Input contains NaN');
  await expect(failure).toContainText('nothing of it is left billing');
  await expect(failure.getByRole('button', { name: 'Retry from this step' })).toHaveCount(0);
  await expect(page.getByTestId('cost-warning')).toHaveCount(0);
  await expect(page.locator('[data-step="delete"]')).toHaveAttribute('data-state', 'done');
  await expect(page.getByTestId('leftovers')).toContainText('Nothing: the machine and what the run created were deleted');
  await app.shot('46-run-failed-cleaned-up');
});

for (const failAt of RUN_STEPS) {
  test(`run view: failure at "${failAt}" shows the reason, the output tail, the cost warning, Delete and Retry`, async ({ page, app }) => {
    await app.open(
      scenario({
        results: signedIn({ list_runs: [runRecord('failed', { lastStep: failAt })], retry_run: null, run_live_status: LIVE_RUNNING }),
        streams: {
          start_run: runEvents(failAt),
          retry_run: runEvents().filter((e) => e.step === 'delete' || RUN_STEPS.indexOf(e.step as never) >= RUN_STEPS.indexOf(failAt)),
        },
        streamDelayMs: 5,
      }),
      '#/new',
    );
    await launch(page);
    const failure = page.getByTestId('failure');
    await expect(failure).toBeVisible();
    await expect(page.getByTestId('run-status')).toHaveText('Failed · machine still running');
    await expect(page.locator(`[data-step="${failAt}"]`)).toHaveAttribute('data-state', 'failed');
    await expect(failure).toContainText(FAILURES[failAt]?.message ?? '');
    const output = failure.getByRole('region', { name: 'Output of the failed step' });
    await expect(output).toContainText((FAILURES[failAt]?.detail ?? '').split('\n')[0] ?? '');
    await expect(output).toHaveCSS('font-family', /mono/i);
    await expect(failure.getByRole('button', { name: 'Delete resources' })).toBeVisible();
    await expect(page.getByTestId('cost-warning')).toContainText('costs money until you delete the resources');
    await expect(page.getByTestId('cost-warning')).toContainText('shuts itself down after 24 hours');
    // Later steps never started; the clean-up waits for the user.
    const after = RUN_STEPS.slice(RUN_STEPS.indexOf(failAt) + 1);
    for (const s of after) await expect(page.locator(`[data-step="${s}"]`)).toHaveAttribute('data-state', 'pending');
    await expect(page.locator('[data-step="delete"]')).toContainText('kept so you can retry');
    await app.shot(`5${RUN_STEPS.indexOf(failAt)}-run-failed-${failAt}`);

    await failure.getByRole('button', { name: 'Retry from this step' }).click();
    await expect(page.getByTestId('success')).toBeVisible();
    await expect(page.locator('[data-step="delete"]')).toHaveAttribute('data-state', 'done');
    expect((await app.calls('retry_run'))[0]?.args).toEqual({ runId: RUN_ID, from: failAt, onEvent: expect.stringMatching(/^channel:/) });
  });
}

test('runs list: result and cloud status agree; open a past failed run, retry it, delete another', async ({ page, app }) => {
  const older = runRecord('succeeded', {
    runId: '20261120-090000-ffffff',
    createdAt: '2026-11-20T09:00:00Z',
    request: { ...REQUEST, instanceType: 'g4dn.xlarge' },
  });
  const failed = runRecord('failed', {
    lastStep: 'training',
    message: 'train.py stopped with an error (exit code 1).',
    detail: FAILURES.training?.detail,
  });
  const active = runRecord('running', {
    runId: '20261127-080000-000001',
    createdAt: '2026-11-27T08:00:00Z',
    lastStep: 'stack',
  });
  await app.open(
    scenario({
      results: signedIn({ list_runs: [older, failed, active], delete_run: DELETE_REPORT, retry_run: null }),
      streams: { delete_run: deleteEvents(), retry_run: runEvents().filter((e) => ['training', 'outputs', 'delete'].includes(e.step)) },
    }),
  );
  const rows = page.getByTestId('run-row');
  await expect(rows).toHaveCount(3);
  // Newest first: the active run, then the failed one, then the older success.
  await expect(rows.nth(0).getByTestId('run-row-status')).toHaveText('Running');
  await expect(rows.nth(0).getByRole('button', { name: /Stop and delete/ })).toBeVisible();
  const f = rows.nth(1);
  await expect(f).toContainText('t3.medium');
  // The region's code in the row, its name in the date cell's tooltip (the table fits 1,100 px).
  await expect(f).toContainText('eu-west-3');
  await expect(f.locator('td[title$="Europe (Paris) — eu-west-3"]')).toHaveCount(1);
  await expect(f).toContainText('Work');
  await expect(f.getByTestId('run-row-status')).toHaveText('Failed · machine still running');
  await expect(f.getByTestId('run-row-cloud')).toHaveText('machine (running) + cloud resources');
  await expect(rows.nth(2)).toContainText('g4dn.xlarge');
  await expect(rows.nth(2).getByTestId('run-row-status')).toHaveText('Finished · cleaned up');
  await expect(rows.nth(2).getByTestId('run-row-cloud')).toHaveText('nothing (cleaned up)');
  await expect(rows.nth(2).getByRole('button', { name: /Delete/ })).toHaveCount(0);
  // One refresh for the whole history, not one status call per run.
  expect(await app.calls('refresh_runs')).toHaveLength(1);
  expect(await app.calls('run_live_status')).toHaveLength(0);
  await app.shot('60-runs-history');

  // A past run opened later: its timeline comes from the history, with the reason, the output and Retry.
  await f.getByRole('link', { name: /Open/ }).click();
  await expect(page.getByTestId('failure')).toContainText('train.py stopped with an error (exit code 1).');
  await expect(page.getByTestId('failure').getByRole('region', { name: 'Output of the failed step' })).toContainText('Traceback');
  await expect(page.locator('[data-step="requirements"]')).toHaveAttribute('data-state', 'done');
  await expect(page.locator('[data-step="training"]')).toHaveAttribute('data-state', 'failed');
  await expect(page.getByTestId('leftovers')).toHaveText("The machine (running) and the run's cloud resources (stack).");
  await expect(page.getByTestId('run-status')).toHaveText('Failed · machine still running');
  await app.shot('61-run-history-failed');
  await page.getByRole('button', { name: 'Retry from this step' }).click();
  await expect(page.getByTestId('success')).toBeVisible();
  expect((await app.calls('retry_run'))[0]?.args).toMatchObject({ runId: RUN_ID, from: 'training' });
  await page.getByRole('link', { name: '← All runs' }).click();

  await rows
    .nth(1)
    .getByRole('button', { name: /Delete/ })
    .click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete resources' }).click();
  await expect(page).toHaveURL(new RegExp(`#/runs/${RUN_ID}$`));
  await expect(page.getByTestId('deleted')).toBeVisible();
});

test('runs list: a load error says what happened and offers to try again', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn(),
      errors: {
        list_runs: {
          code: 'history_unreadable',
          message: 'The run history could not be opened.',
          hint: 'Close other easyTDV windows and try again.',
        },
      },
    }),
  );
  await expect(page.getByRole('alert')).toContainText('The run history could not be opened.');
  await expect(page.getByRole('button', { name: 'Try again' })).toBeVisible();
});

test('runs list: stopped runs say so; Stop and delete from the list stops the run where it was', async ({ page, app }) => {
  const stoppedClean = runRecord('stopped', {
    runId: '20261121-090000-000002',
    createdAt: '2026-11-21T09:00:00Z',
    lastStep: 'training',
    message: STOPPED_MESSAGE,
    cleanup: 'deleted',
  });
  const stoppedLeft = runRecord('stopped', {
    runId: '20261122-090000-000003',
    createdAt: '2026-11-22T09:00:00Z',
    lastStep: 'requirements',
    message: STOPPED_MESSAGE,
    cleanup: 'failed',
    cleanupMessage: 'The machine did not terminate in time.',
  });
  const active = runRecord('running', { lastStep: 'stack' });
  await app.open(
    scenario({
      results: signedIn({ list_runs: [stoppedClean, stoppedLeft, active], delete_run: DELETE_REPORT, run_live_status: LIVE_RUNNING }),
      streams: { delete_run: deleteEvents() },
      thenStreamed: { delete_run: { run_live_status: LIVE_GONE } },
    }),
  );
  const rows = page.getByTestId('run-row');
  await expect(rows).toHaveCount(3);
  await expect(rows.nth(1).getByTestId('run-row-status')).toHaveText('Stopped · clean-up failed');
  await expect(rows.nth(1).getByRole('button', { name: /^Delete/ })).toBeVisible();
  await expect(rows.nth(2).getByTestId('run-row-status')).toHaveText('Stopped · cleaned up');
  await expect(rows.nth(2).getByRole('button', { name: /Delete/ })).toHaveCount(0);
  await app.shot('62-runs-stopped');

  await rows
    .nth(0)
    .getByRole('button', { name: /Stop and delete/ })
    .click();
  const dialog = page.getByRole('dialog', { name: 'Stop this run and delete its resources?' });
  await expect(dialog).toContainText('The run started');
  await dialog.getByRole('button', { name: 'Stop and delete' }).click();
  await expect(page).toHaveURL(new RegExp(`#/runs/${RUN_ID}$`));
  await expect(page.locator('[data-step="stack"]')).toHaveAttribute('data-state', 'stopped');
  await expect(page.locator('[data-step="delete"]')).toHaveAttribute('data-state', 'done');
  await expect(page.getByTestId('run-status')).toHaveText('Stopped · cleaned up');
  await expect(page.getByTestId('failure')).toContainText('You stopped this run at “Create the cloud resources”');
  await page.getByRole('link', { name: '← All runs' }).click();
  await expect(rows.nth(0).getByTestId('run-row-status')).toHaveText('Stopped · cleaned up');
});

async function goHash(page: Page, hash: string) {
  await page.evaluate((h) => (window.location.hash = h), hash);
}

/** The run's events up to "requirements" running: what the backend kept before the view was opened. */
const PAST = runEvents().slice(0, 7);
const REST = runEvents().slice(7);

test('run view: a run opened again replays its whole timeline (watch_run), then goes on', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn({ list_runs: [runRecord('running', { lastStep: 'requirements', cleanup: 'none' })], run_live_status: LIVE_ACTIVE }),
      feeds: { [RUN_ID]: PAST },
      streams: { watch_run: REST },
      thenStreamed: { watch_run: { list_runs: [runRecord('succeeded')], run_live_status: LIVE_GONE } },
      watchGoesOnAfterMs: 3000,
      streamDelayMs: 200,
    }),
    `#/runs/${RUN_ID}`,
  );
  // Every step so far, with its own message and time (not the rebuilt history view).
  await expect(page.locator('[data-step="prepare"]')).toContainText('Your files are in easytdv-123456789012-eu-west-3');
  await expect(page.locator('[data-step="prepare"]')).toContainText('8.8 s');
  await expect(page.locator('[data-step="stack"]')).toContainText('Cloud resources are ready');
  await expect(page.locator('[data-step="stack"]')).toContainText('23 s');
  await expect(page.locator('[data-step="instance"]')).toContainText('The machine is running and connected');
  await expect(page.locator('[data-step="requirements"]')).toHaveAttribute('data-state', 'running');
  await expect(page.locator('[data-step="requirements"]')).toContainText('Installing your packages');
  await expect(page.getByTestId('run-status')).toHaveText('Running');
  await expect(page.getByText('this one is shown from the history')).toHaveCount(0);
  await app.shot('44-run-reopened-replayed');

  // Leave for the runs list and come back: the same timeline, without asking twice.
  await goHash(page, '#/runs');
  await expect(page.getByRole('heading', { name: 'Runs', exact: true })).toBeVisible();
  await goHash(page, `#/runs/${RUN_ID}`);
  await expect(page.locator('[data-step="stack"]')).toContainText('Cloud resources are ready');
  await expect(page.locator('[data-step="prepare"]')).toContainText('8.8 s');
  expect((await app.calls('watch_run')).map((c) => c.args)).toEqual([{ runId: RUN_ID, onEvent: expect.stringMatching(/^channel:/) }]);

  // The run goes on to the end and its clean-up.
  await expect(page.getByTestId('success')).toBeVisible({ timeout: 8000 });
  await expect(page.locator('[data-step="training"]')).toContainText('train.py finished: accuracy 0.93');
  await expect(page.locator('[data-step="delete"]')).toHaveAttribute('data-state', 'done', { timeout: 6000 });
  await expect(page.getByTestId('run-status')).toHaveText('Finished · cleaned up');
  await expect(page.locator('[data-step="delete"]')).toContainText('The machine, the stack and 4 input files were deleted');
});

test('run view: leaving a run started here and coming back keeps every step, with no second watcher', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn({ list_runs: [RUNNING_RECORD], run_live_status: LIVE_ACTIVE }),
      streams: { start_run: runEvents() },
      // "instance" runs for 1.5 s, long enough to be seen on a busy machine.
      streamHolds: { start_run: { after: 5, ms: 1500 } },
      thenStreamed: { start_run: { list_runs: [runRecord('succeeded')], run_live_status: LIVE_GONE } },
      streamDelayMs: 250,
    }),
    '#/new',
  );
  await launch(page);
  await expect(page.locator('[data-step="instance"]')).toHaveAttribute('data-state', 'running', { timeout: 6000 });
  await goHash(page, '#/runs');
  await expect(page.getByRole('heading', { name: 'Runs', exact: true })).toBeVisible();
  await goHash(page, `#/runs/${RUN_ID}`);
  await expect(page.locator('[data-step="prepare"]')).toContainText('Your files are in easytdv-123456789012-eu-west-3');
  await expect(page.locator('[data-step="stack"]')).toContainText('23 s');
  await expect(page.getByTestId('success')).toBeVisible({ timeout: 8000 });
  await expect(page.locator('[data-step="delete"]')).toHaveAttribute('data-state', 'done', { timeout: 6000 });
  await expect(page.locator('[data-step="delete"]')).toContainText('The machine, the stack and 4 input files were deleted');
  // The start channel already follows the run: the view does not attach another.
  expect(await app.calls('watch_run')).toEqual([]);
});

test('run view: a stopped and cleaned-up run replayed from this session stays stopped, not running', async ({ page, app }) => {
  const stopped = runRecord('stopped', { lastStep: 'requirements', message: STOPPED_MESSAGE, cleanup: 'deleted' });
  await app.open(
    scenario({
      results: signedIn({ list_runs: [stopped], run_live_status: LIVE_GONE }),
      // The backend sends "stopped" for the step under way, then the clean-up.
      feeds: { [RUN_ID]: [...PAST, stoppedEvent('requirements'), ...deleteEvents()] },
    }),
    `#/runs/${RUN_ID}`,
  );
  await expect(page.locator('[data-step="delete"]')).toContainText('The machine, the stack and 4 input files were deleted');
  await expect(page.locator('[data-step="requirements"]')).toHaveAttribute('data-state', 'stopped');
  await expect(page.locator('[data-step="stack"]')).toContainText('Cloud resources are ready');
  await expect(page.locator('[data-state="running"]')).toHaveCount(0);
  await expect(page.getByTestId('run-status')).toHaveText('Stopped · cleaned up');
  await expect(page.getByTestId('failure')).toContainText('You stopped this run at “Install your packages”');
  await expect(page.getByRole('button', { name: 'Stop and delete' })).toHaveCount(0);
  await expect(page.getByTestId('failure').getByRole('button', { name: 'Retry from this step' })).toHaveCount(0);
  await app.shot('45-run-stopped-replayed');
});

test('run view: a run of an earlier app session (no events kept) is rebuilt from the history', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn({
        list_runs: [runRecord('failed', { lastStep: 'training', message: FAILURES.training?.message })],
        run_live_status: LIVE_RUNNING,
      }),
    }),
    `#/runs/${RUN_ID}`,
  );
  await expect(page.locator('[data-step="training"]')).toHaveAttribute('data-state', 'failed');
  await expect(page.getByText('this one is shown from the history')).toBeVisible();
  expect((await app.calls('watch_run')).length).toBe(1);
});
