import type { Page } from '@playwright/test';
import { KEYS_ACCOUNT, REQUIREMENTS, RUN_ID, SCRIPT, runEvents, signedIn } from './data';
import { expect, scenario, test, pickCode } from './fixtures';

// A value typed once on the Accounts page: it goes to set_secret and nowhere else.
const VALUE = 'hf_Sup3rS3cretValue_do_not_show';

async function toReview(page: Page) {
  await pickCode(page);
  for (const heading of ['Machine', 'Storage', 'Review and launch']) {
    await page.getByRole('button', { name: 'Next' }).click();
    await expect(page.getByRole('heading', { name: heading, exact: true })).toBeVisible();
  }
}

test('secrets: add one on Accounts (only its name shown again), pick it on Review, the run request names it', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn({ set_secret: ['HF_TOKEN'], delete_secret: [] }),
      streams: { start_run: runEvents() },
      // The Accounts panel reads none; after the save, the wizard reads the one saved.
      sequences: { list_secrets: [[], ['HF_TOKEN']] },
    }),
    '#/accounts',
  );
  await page.getByRole('button', { name: 'Secrets of Work' }).click();
  const panel = page.getByTestId('secrets-panel');
  await expect(panel.getByRole('heading', { name: 'Secrets for train.py' })).toBeVisible();
  await expect(panel).toContainText("kept in this computer's keychain and sent to the machine encrypted, only for the run");
  await expect(panel).toContainText('No secrets yet.');

  // A name that is not an environment variable, and no value: said next to each field, nothing sent.
  await panel.getByLabel('Name (the variable train.py reads)').fill('MY-TOKEN');
  await panel.getByRole('button', { name: 'Save secret' }).click();
  await expect(panel).toContainText('Use only letters A–Z, digits and _');
  await expect(panel).toContainText('Paste the token or key itself.');
  expect(await app.calls('set_secret')).toHaveLength(0);

  await panel.getByLabel('Name (the variable train.py reads)').fill('HF_TOKEN');
  const value = panel.getByLabel('Value');
  await expect(value).toHaveAttribute('type', 'password');
  await value.fill(VALUE);
  await panel.getByRole('button', { name: 'Save secret' }).click();
  await expect(panel.getByRole('list', { name: 'Secrets of Work' })).toContainText('HF_TOKEN');
  await expect(panel.getByRole('status')).toContainText('Saved HF_TOKEN in your keychain');
  expect((await app.calls('set_secret'))[0]?.args).toEqual({ accountId: KEYS_ACCOUNT.id, name: 'HF_TOKEN', value: VALUE });
  // The value is gone from the page: not in the field, not in the text.
  await expect(value).toHaveValue('');
  expect(await page.content()).not.toContain(VALUE);
  await app.shot('73-accounts-secrets');

  // The wizard (same page, no reload): the picker lists the name only.
  await page.getByRole('link', { name: 'New run' }).first().click();
  await toReview(page);
  const picker = page.getByTestId('secret-picker');
  await expect(picker.getByRole('heading', { name: 'Secrets' })).toBeVisible();
  const box = picker.getByRole('checkbox', { name: 'HF_TOKEN' });
  await expect(box).not.toBeChecked();
  await expect(page.getByTestId('review-secrets')).toHaveCount(0);
  await box.check();
  await expect(page.getByTestId('review-secrets')).toContainText('HF_TOKEN');
  await expect(page.getByRole('region', { name: /What will be created/ })).toContainText('1 encrypted secret in Parameter Store');
  await expect(picker).toContainText('os.environ["HF_TOKEN"]');
  expect(await page.content()).not.toContain(VALUE);
  await app.shot('26-wizard-review-secrets');

  await page.getByRole('button', { name: 'Launch training' }).click();
  await expect(page).toHaveURL(new RegExp(`#/runs/${RUN_ID}$`));
  const start = (await app.calls('start_run'))[0]?.args;
  expect(start).toMatchObject({
    accountId: KEYS_ACCOUNT.id,
    request: { scriptPath: SCRIPT.path, requirementsPath: REQUIREMENTS.path, secrets: ['HF_TOKEN'] },
  });
  // Only set_secret ever carried the value.
  const others = (await app.calls()).filter((c) => c.cmd !== 'set_secret');
  expect(JSON.stringify(others)).not.toContain(VALUE);
});

test('secrets: delete one on Accounts; a run without secrets sends none', async ({ page, app }) => {
  await app.open(
    scenario({ results: signedIn({ delete_secret: [] }), sequences: { list_secrets: [['HF_TOKEN', 'WANDB_API_KEY'], []] } }),
    '#/accounts',
  );
  await page.getByRole('button', { name: 'Secrets of Work' }).click();
  const panel = page.getByTestId('secrets-panel');
  await expect(panel.getByRole('list', { name: 'Secrets of Work' })).toContainText('WANDB_API_KEY');
  await panel.getByRole('button', { name: 'Delete HF_TOKEN' }).click();
  expect((await app.calls('delete_secret'))[0]?.args).toEqual({ accountId: KEYS_ACCOUNT.id, name: 'HF_TOKEN' });
  await expect(panel).toContainText('No secrets yet.');

  await page.getByRole('link', { name: 'New run' }).first().click();
  await toReview(page);
  await expect(page.getByTestId('secret-picker')).toContainText('This account has no secrets');
});

test('secrets: a SageMaker run takes them too, for its training job only', async ({ page, app }) => {
  await app.open(scenario({ results: signedIn({ list_secrets: ['HF_TOKEN'] }), streams: { start_run: runEvents() } }), '#/new');
  await pickCode(page);
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByRole('heading', { name: 'Machine', exact: true })).toBeVisible();
  await page.getByRole('radio', { name: 'Managed training (SageMaker)' }).check();
  for (const heading of ['Storage', 'Review and launch']) {
    await page.getByRole('button', { name: 'Next' }).click();
    await expect(page.getByRole('heading', { name: heading, exact: true })).toBeVisible();
  }
  const picker = page.getByTestId('secret-picker');
  await picker.getByRole('checkbox', { name: 'HF_TOKEN' }).check();
  await expect(picker).toContainText("to this run's training job only");
  await expect(picker).toContainText('or in the job’s description');
  await expect(picker).not.toContainText('EC2');
  await expect(page.getByTestId('review-secrets')).toContainText('HF_TOKEN');
  await expect(page.getByRole('region', { name: /What will be created/ })).toContainText(
    "1 encrypted secret in Parameter Store — the values of HF_TOKEN, readable by this run's training job only.",
  );
  await app.shot('26b-wizard-review-secrets-sagemaker');

  await page.getByRole('button', { name: 'Launch training' }).click();
  await expect(page).toHaveURL(new RegExp(`#/runs/${RUN_ID}$`));
  const start = (await app.calls('start_run'))[0]?.args;
  expect(start).toMatchObject({ request: { secrets: ['HF_TOKEN'], engine: { kind: 'sageMaker' } } });
});
