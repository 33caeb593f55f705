import type { Page } from '@playwright/test';
import { KEYS_ACCOUNT, PROJECT_NO_REQUIREMENTS, REQUEST, REQUIREMENTS, RUN_ID, SCRIPT, runEvents, runRecord, signedIn } from './data';
import { expect, scenario, test, pickCode } from './fixtures';

const ARGS_TEXT = `--epochs 3 --name "my run" --home '$HOME'`;
const ENV_TEXT = 'WANDB_PROJECT=digits\nGREETING=hello world';
/** What the backend makes of the two fields (check_script_inputs). */
const CHECKED = {
  args: ['--epochs', '3', '--name', 'my run', '--home', '$HOME'],
  env: [
    { name: 'WANDB_PROJECT', value: 'digits' },
    { name: 'GREETING', value: 'hello world' },
  ],
};

async function toReview(page: Page) {
  await pickCode(page);
  for (let i = 0; i < 3; i++) await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByRole('heading', { name: 'Review and launch' })).toBeVisible();
}

test('Review step: arguments and variables are checked by the backend, shown one by one, and sent with the run', async ({ page, app }) => {
  await app.open(scenario({ results: signedIn({ check_script_inputs: CHECKED }), streams: { start_run: runEvents() } }), '#/new');
  await toReview(page);
  const card = page.getByRole('region', { name: 'Arguments and variables' });
  await card.getByLabel('Arguments for train.py (optional)').fill(ARGS_TEXT);
  await card.getByLabel('Environment variables (optional)').fill(ENV_TEXT);
  const preview = page.getByTestId('script-inputs-preview');
  await expect(preview).toContainText('train.py gets 6 arguments');
  for (const arg of CHECKED.args) await expect(preview.locator('code', { hasText: arg }).first()).toBeVisible();
  await expect(preview).toContainText('WANDB_PROJECT');
  await expect(preview).toContainText('GREETING');
  await app.shot('26-wizard-review-arguments');
  const checks = await app.calls('check_script_inputs');
  expect(checks.at(-1)?.args).toEqual({ argsText: ARGS_TEXT, envText: ENV_TEXT, engine: { kind: 'ec2' } });
  // The answer does not start another check: once the fields are still, the backend is asked no more.
  await page.waitForTimeout(1_000);
  expect(await app.calls('check_script_inputs')).toHaveLength(checks.length);

  await page.getByRole('button', { name: 'Launch training' }).click();
  await expect(page).toHaveURL(new RegExp(`#/runs/${RUN_ID}$`));
  const request = (await app.calls('start_run'))[0]?.args.request as Record<string, unknown>;
  expect(request).toMatchObject({ args: CHECKED.args, argsText: ARGS_TEXT, env: CHECKED.env });
});

test('Review step: an unclosed quote is refused under the field and nothing is launched', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn(),
      errors: {
        check_script_inputs: {
          code: 'arguments_unclosed_quote',
          message: 'the arguments cannot be split: missing closing quote',
          hint: 'Close the quote, or put a backslash before a quote that is part of an argument.',
        },
      },
    }),
    '#/new',
  );
  await toReview(page);
  const args = page.getByLabel('Arguments for train.py (optional)');
  await args.fill('--name "my run');
  await expect(page.getByText('The arguments cannot be split: missing closing quote. Close the quote')).toBeVisible();
  await expect(args).toHaveAttribute('aria-invalid', 'true');
  await page.getByRole('button', { name: 'Launch training' }).click();
  await expect(page.getByRole('heading', { name: 'Review and launch' })).toBeVisible();
  expect(await app.calls('start_run')).toEqual([]);
});

test('run page: what train.py got, and Run again with changes fills the wizard from the run', async ({ page, app }) => {
  const request = { ...REQUEST, args: CHECKED.args, argsText: ARGS_TEXT, env: CHECKED.env };
  await app.open(
    scenario({
      results: signedIn({
        list_runs: [runRecord('succeeded', { request })],
        reuse_run: { accountId: KEYS_ACCOUNT.id, request, script: SCRIPT, requirements: REQUIREMENTS, dataFolder: null },
        run_metrics: [],
        check_script_inputs: CHECKED,
      }),
      streams: { start_run: runEvents() },
    }),
    `#/runs/${RUN_ID}`,
  );
  const got = page.getByRole('region', { name: 'What train.py got' });
  await expect(got.getByTestId('run-args')).toContainText(ARGS_TEXT);
  for (const arg of CHECKED.args) await expect(got.getByTestId('run-args').locator('code', { hasText: arg }).first()).toBeVisible();
  await expect(got.getByTestId('run-env')).toContainText('WANDB_PROJECT=digits');
  await expect(got.getByTestId('run-env')).toContainText('GREETING=hello world');
  await app.shot('44-run-arguments');

  await got.getByRole('button', { name: 'Run again with changes' }).click();
  await expect(page).toHaveURL(new RegExp(`#/new/${RUN_ID}$`));
  await expect(page.getByTestId('run-again-from')).toContainText(RUN_ID);
  await expect(page.getByRole('heading', { name: 'Review and launch' })).toBeVisible();
  expect((await app.calls('reuse_run'))[0]?.args).toEqual({ runId: RUN_ID });
  await expect(page.getByLabel('Arguments for train.py (optional)')).toHaveValue(ARGS_TEXT);
  await expect(page.getByLabel('Environment variables (optional)')).toHaveValue(ENV_TEXT);
  await expect(page.getByTestId('script-inputs-preview')).toContainText('train.py gets 6 arguments');
  // A change, then launch: a new run with the changed arguments.
  await page.getByLabel('Arguments for train.py (optional)').fill('--epochs 5');
  await expect(page.getByTestId('script-inputs-preview')).toBeVisible();
  await page.getByRole('button', { name: 'Launch training' }).click();
  await expect(page).toHaveURL(new RegExp(`#/runs/${RUN_ID}$`));
  const sent = (await app.calls('start_run'))[0]?.args.request as Record<string, unknown>;
  expect(sent).toMatchObject({
    scriptPath: SCRIPT.path,
    bucket: REQUEST.bucket,
    instanceType: REQUEST.instanceType,
    argsText: '--epochs 5',
  });
});

test("Review step: a notebook's arguments are its parameters, in papermill's words", async ({ page, app }) => {
  const notebook = { ...SCRIPT, path: '/home/marie/project/Train Model.ipynb', name: 'Train Model.ipynb' };
  const params = { args: ['-p', 'epochs', '3'], env: [] };
  await app.open(
    scenario({
      results: signedIn({
        pick_script: notebook,
        project_summary: {
          ...PROJECT_NO_REQUIREMENTS,
          script: notebook,
          summary: { ...PROJECT_NO_REQUIREMENTS.summary, entry: notebook.name },
        },
        check_script_inputs: params,
      }),
    }),
    '#/new',
  );
  await toReview(page);
  const card = page.getByRole('region', { name: 'Arguments and variables' });
  await expect(card.getByLabel('Arguments for train.py (optional)')).toHaveCount(0);
  const field = card.getByLabel('Parameters for Train Model.ipynb (optional)');
  await expect(field).toHaveAttribute('placeholder', 'e.g. -p epochs 3 -p lr 0.01');
  await field.fill('-p epochs 3');
  await expect(page.getByTestId('script-inputs-preview')).toContainText('Train Model.ipynb gets 3 arguments');
});
