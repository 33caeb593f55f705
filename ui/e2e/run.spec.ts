import type { Page } from '@playwright/test';
import { DELETE_REPORT, FAILURES, LIVE_GONE, OUTPUTS_URI, RUN_ID, RUN_STEPS, deleteEvents, runEvents, runRecord, signedIn } from './data';
import { expect, scenario, test } from './fixtures';

async function launch(page: Page) {
  await page.getByRole('button', { name: 'Choose script…' }).click();
  await page.getByRole('button', { name: 'Choose requirements.txt…' }).click();
  for (let i = 0; i < 3; i++) await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Launch training' }).click();
  await expect(page).toHaveURL(new RegExp(`#/runs/${RUN_ID}$`));
}

test('run view: live progress, success with the outputs location, then one-click delete', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn({ list_runs: [runRecord('succeeded')], delete_run: DELETE_REPORT }),
      then: { delete_run: { run_live_status: LIVE_GONE, list_runs: [runRecord('deleted')] } },
      streams: { start_run: runEvents(), delete_run: deleteEvents() },
      streamDelayMs: 150,
    }),
    '#/new',
  );
  await launch(page);
  // Mid-run: a step is in progress.
  await expect(page.locator('[data-state="running"]')).toHaveCount(1);
  await expect(page.getByTestId('run-status')).toHaveText('Running');
  await app.shot('40-run-in-progress');

  await expect(page.getByTestId('success')).toBeVisible({ timeout: 6000 });
  for (const step of RUN_STEPS) await expect(page.locator(`[data-step="${step}"]`)).toHaveAttribute('data-state', 'done');
  await expect(page.getByTestId('run-status')).toHaveText('Finished');
  await expect(page.getByTestId('outputs-uri')).toHaveText(OUTPUTS_URI);
  await expect(page.getByTestId('still-running')).toContainText('costs money until you delete the resources');
  await expect(page.locator('[data-step="training"]')).toContainText('train.py finished (exit code 0)');
  await expect(page.locator('[data-step="stack"]')).toContainText('23 s');
  await app.shot('41-run-succeeded');

  await page.getByTestId('success').getByRole('button', { name: 'Delete resources' }).click();
  const dialog = page.getByRole('dialog', { name: /Delete this run/ });
  await expect(dialog).toBeVisible();
  await app.shot('42-run-delete-confirm');
  await dialog.getByRole('button', { name: 'Delete resources' }).click();
  await expect(page.getByTestId('deleted')).toBeVisible();
  await expect(page.locator('[data-step="delete"]')).toHaveAttribute('data-state', 'done');
  await expect(page.getByTestId('run-status')).toHaveText('Deleted');
  expect((await app.calls('delete_run'))[0]?.args).toEqual({ runId: RUN_ID, onEvent: expect.stringMatching(/^channel:/) });
  await expect(page.getByTestId('deleted')).toContainText('the machine i-0abc123');
  await expect(page.getByTestId('deleted')).toContainText('4 uploaded files');
  await expect(page.getByTestId('deleted')).toContainText(`easytdv/runs/${RUN_ID}/outputs/`);
  await app.shot('43-run-deleted');
});

for (const failAt of RUN_STEPS) {
  test(`run view: failure at "${failAt}" shows the reason, the output tail, Delete and Retry`, async ({ page, app }) => {
    await app.open(
      scenario({
        results: signedIn({ list_runs: [runRecord('failed', { lastStep: failAt })], retry_run: null }),
        streams: { start_run: runEvents(failAt), retry_run: runEvents().filter((e) => RUN_STEPS.indexOf(e.step as never) >= RUN_STEPS.indexOf(failAt)) },
        streamDelayMs: 5,
      }),
      '#/new',
    );
    await launch(page);
    const failure = page.getByTestId('failure');
    await expect(failure).toBeVisible();
    await expect(page.getByTestId('run-status')).toHaveText('Failed');
    await expect(page.locator(`[data-step="${failAt}"]`)).toHaveAttribute('data-state', 'failed');
    await expect(failure).toContainText(FAILURES[failAt]?.message ?? '');
    const output = failure.getByRole('region', { name: 'Output of the failed step' });
    await expect(output).toContainText((FAILURES[failAt]?.detail ?? '').split('\n')[0] ?? '');
    await expect(output).toHaveCSS('font-family', /mono/i);
    await expect(failure.getByRole('button', { name: 'Delete resources' })).toBeVisible();
    // Later steps never started.
    const after = RUN_STEPS.slice(RUN_STEPS.indexOf(failAt) + 1);
    for (const s of after) await expect(page.locator(`[data-step="${s}"]`)).toHaveAttribute('data-state', 'pending');
    await app.shot(`5${RUN_STEPS.indexOf(failAt)}-run-failed-${failAt}`);

    await failure.getByRole('button', { name: 'Retry from this step' }).click();
    await expect(page.getByTestId('success')).toBeVisible();
    expect((await app.calls('retry_run'))[0]?.args).toEqual({ runId: RUN_ID, from: failAt, onEvent: expect.stringMatching(/^channel:/) });
  });
}

test('runs list: history with cloud status, open a past failed run, retry it, delete another', async ({ page, app }) => {
  const older = runRecord('deleted', {
    runId: '20261120-090000-ffffff',
    createdAt: '2026-11-20T09:00:00Z',
    request: { ...runRecord('deleted').request, instanceType: 'g4dn.xlarge' },
  });
  const failed = runRecord('failed', {
    lastStep: 'training',
    message: 'train.py stopped with an error (exit code 1).',
  });
  await app.open(
    scenario({
      results: signedIn({ list_runs: [older, failed], delete_run: DELETE_REPORT, retry_run: null }),
      streams: { delete_run: deleteEvents(), retry_run: runEvents().filter((e) => ['training', 'outputs'].includes(e.step)) },
    }),
  );
  const rows = page.getByTestId('run-row');
  await expect(rows).toHaveCount(2);
  await expect(rows.first()).toContainText('t3.medium');
  await expect(rows.first()).toContainText('Europe (Paris) — eu-west-3');
  await expect(rows.first()).toContainText('Work');
  await expect(rows.first()).toContainText('Failed');
  await expect(rows.first()).toContainText('machine (running), cloud resources (stack)');
  await expect(rows.nth(1)).toContainText('g4dn.xlarge');
  await expect(rows.nth(1)).toContainText('Deleted');
  await expect(rows.nth(1)).toContainText('nothing');
  await expect(rows.nth(1).getByRole('button', { name: /Delete/ })).toHaveCount(0);
  expect((await app.calls('run_live_status')).map((c) => c.args.runId)).toEqual([RUN_ID]);
  await app.shot('60-runs-history');

  // A past run opened later: its timeline comes from the history, with the reason and Retry.
  await rows.first().getByRole('link', { name: /Open/ }).click();
  await expect(page.getByTestId('failure')).toContainText('train.py stopped with an error (exit code 1).');
  await expect(page.locator('[data-step="requirements"]')).toHaveAttribute('data-state', 'done');
  await expect(page.locator('[data-step="training"]')).toHaveAttribute('data-state', 'failed');
  await expect(page.getByTestId('leftovers')).toHaveText('Machine (running), cloud resources (stack).');
  await app.shot('61-run-history-failed');
  await page.getByRole('button', { name: 'Retry from this step' }).click();
  await expect(page.getByTestId('success')).toBeVisible();
  expect((await app.calls('retry_run'))[0]?.args).toMatchObject({ runId: RUN_ID, from: 'training' });
  await page.getByRole('link', { name: '← All runs' }).click();

  await rows.first().getByRole('button', { name: /Delete/ }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete resources' }).click();
  await expect(page).toHaveURL(new RegExp(`#/runs/${RUN_ID}$`));
  await expect(page.getByTestId('deleted')).toBeVisible();
});

test('runs list: a load error says what happened and offers to try again', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn(),
      errors: { list_runs: { code: 'history_unreadable', message: 'The run history could not be opened.', hint: 'Close other easyTDV windows and try again.' } },
    }),
  );
  await expect(page.getByRole('alert')).toContainText('The run history could not be opened.');
  await expect(page.getByRole('button', { name: 'Try again' })).toBeVisible();
});
