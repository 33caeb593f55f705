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

test('accounts: what easyTDV keeps in AWS, removed where no machine runs', async ({ page, app }) => {
  const ready = { region: 'eu-west-3', status: 'UPDATE_COMPLETE', machinesRunning: 0 };
  const inUse = { region: 'us-east-1', status: 'CREATE_COMPLETE', machinesRunning: 1 };
  await app.open(
    scenario({
      results: signedIn({
        list_accounts: [KEYS_ACCOUNT],
        remove_bases: { removed: ['eu-west-3'], kept: [inUse], failures: [] },
      }),
      sequences: {
        find_bases: [
          {
            sites: [ready, inUse],
            failures: [{ region: 'ap-east-1', bucket: null, code: 'access_denied', message: 'access denied', hint: null }],
          },
          { sites: [inUse], failures: [] },
        ],
      },
    }),
    '#/accounts',
  );
  await page.getByRole('button', { name: 'In AWS for Work' }).click();
  const panel = page.getByTestId('cloud-panel');
  await expect(panel).toContainText('What easyTDV keeps in this AWS account');
  await expect(panel).toContainText('They cost nothing while no machine runs');
  const sites = panel.getByRole('list', { name: "easyTDV's shared resources of Work" });
  await expect(sites.getByRole('listitem')).toHaveCount(2);
  await expect(sites.getByRole('listitem').first()).toContainText('eu-west-3 ready · free');
  await expect(sites.getByRole('listitem').nth(1)).toContainText('us-east-1 in use: an easyTDV machine runs there');
  await expect(panel).toContainText('Could not look in ap-east-1: access denied');
  await app.shot('73-accounts-in-aws');

  await panel.getByRole('button', { name: 'Remove easyTDV from this account…' }).click();
  const dialog = page.getByRole('dialog', { name: "Remove easyTDV's shared resources?" });
  // Only where no machine runs: the region in use is not named.
  await expect(dialog).toContainText('They are deleted in eu-west-3.');
  await dialog.getByRole('button', { name: 'Remove them' }).click();
  expect((await app.calls('remove_bases'))[0]?.args).toEqual({ accountId: KEYS_ACCOUNT.id });
  await expect(panel.getByRole('status')).toContainText('Removed in eu-west-3.');
  await expect(panel.getByRole('status')).toContainText('Kept in us-east-1: an easyTDV machine runs there.');
  // Looked again: what is left, and nothing more to remove.
  await expect(sites.getByRole('listitem')).toHaveCount(1);
  await expect(panel.getByRole('button', { name: 'Remove easyTDV from this account…' })).toHaveCount(0);
  await app.shot('74-accounts-in-aws-removed');
});
