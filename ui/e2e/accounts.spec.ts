import { IDENTITY, KEYS_ACCOUNT, PROFILE_ACCOUNT, SANDBOX_ACCOUNT, signedIn } from './data';
import { expect, scenario, test } from './fixtures';

test('accounts: list, rename, make default, remove with confirmation, add', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn({
        list_accounts: [KEYS_ACCOUNT, PROFILE_ACCOUNT, SANDBOX_ACCOUNT],
        rename_account: PROFILE_ACCOUNT,
        set_default_account: PROFILE_ACCOUNT,
        set_account_region: PROFILE_ACCOUNT,
        delete_account: null,
        check_account: {
          account: KEYS_ACCOUNT,
          identity: IDENTITY,
          missingPermissions: [{ action: 'iam:PassRole', purpose: 'give the machine its role', fix: 'Add iam:PassRole to your user.' }],
          uncheckedPermissions: [],
          permissionCheck: 'simulated',
        },
      }),
    }),
    '#/accounts',
  );
  const rows = page.getByTestId('account-row');
  await expect(rows).toHaveCount(3);
  await expect(rows.first()).toContainText('Default');
  await expect(rows.first()).toContainText('Access key AKIA…MPLE · Europe (Paris) — eu-west-3');
  await expect(rows.nth(1)).toContainText('AWS CLI profile “lab”');
  await expect(rows.nth(2)).toContainText('Pretend AWS on this computer, nothing billed · http://127.0.0.1:4566');
  await app.shot('70-accounts');

  await page.getByRole('button', { name: 'Rename Lab' }).click();
  const input = page.getByLabel('New name for Lab');
  await expect(input).toBeFocused();
  await input.fill('');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByText('Give this account a name')).toBeVisible();
  await input.fill('Research lab');
  await input.press('Enter');
  expect((await app.calls('rename_account'))[0]?.args).toEqual({ id: PROFILE_ACCOUNT.id, name: 'Research lab' });

  await page.getByRole('button', { name: 'Make default (Lab)' }).click();
  expect((await app.calls('set_default_account'))[0]?.args).toEqual({ id: PROFILE_ACCOUNT.id });

  await page.getByRole('button', { name: 'Check access of Work' }).click();
  await expect(page.getByTestId('check-result')).toContainText('1 permission is missing');
  await expect(page.getByTestId('check-result')).toContainText('iam:PassRole');

  await page.getByRole('button', { name: 'Region of Lab' }).click();
  await page.getByLabel('Default region for Lab').selectOption('eu-central-1');
  await page.getByRole('button', { name: 'Save region' }).click();
  expect((await app.calls('set_account_region'))[0]?.args).toEqual({ id: PROFILE_ACCOUNT.id, region: 'eu-central-1' });
  await app.shot('72-accounts-checked');

  await page.getByRole('button', { name: 'Remove Local sandbox' }).click();
  const dialog = page.getByRole('dialog');
  await expect(dialog).toContainText('Remove “Local sandbox”?');
  await app.shot('71-accounts-remove-confirm');
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  expect(await app.calls('delete_account')).toHaveLength(0);
  await page.getByRole('button', { name: 'Remove Local sandbox' }).click();
  await dialog.getByRole('button', { name: 'Remove account' }).click();
  expect((await app.calls('delete_account'))[0]?.args).toEqual({ id: SANDBOX_ACCOUNT.id });

  await page.getByRole('link', { name: 'Add account' }).click();
  await expect(page.getByRole('heading', { name: 'Add an account' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Cancel' })).toBeVisible();
});
