import { IDENTITY, KEYS_ACCOUNT, REGIONS, SANDBOX_ACCOUNT } from './data';
import type { AccountSetup, SetupPlan } from './wire';
import { expect, scenario, test } from './fixtures';

const KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

function firstRun(extra: Parameters<typeof scenario>[0] = {}) {
  return scenario({
    ...extra,
    results: {
      list_accounts: [],
      list_regions: REGIONS,
      detect_profiles: [],
      list_runs: [],
      default_sandbox_endpoint: 'http://127.0.0.1:4566',
      policy_documents: [],
      ...(extra.results ?? {}),
    },
  });
}

test('first run with access keys: paste a key,secret pair, verify, see identity and missing permissions', async ({ page, app }) => {
  await app.open(
    firstRun({
      results: {
        add_keys_account: {
          account: KEYS_ACCOUNT,
          identity: IDENTITY,
          missingPermissions: [
            {
              action: 'iam:CreateRole',
              purpose: 'create the two roles of a run',
              fix: 'Attach the IAMFullAccess policy to the user marie, or ask your administrator.',
            },
          ],
          uncheckedPermissions: [
            { action: 'ssm:SendCommand', purpose: 'run your script on the machine', fix: 'Attach AmazonSSMFullAccess.' },
          ],
          permissionCheck: 'dryRun',
        },
      },
      delays: { add_keys_account: 400 },
      then: { add_keys_account: { list_accounts: [KEYS_ACCOUNT] } },
    }),
  );
  await expect(page.getByRole('heading', { name: 'Welcome to easyTDV' })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Main' })).toHaveCount(0);
  await app.shot('10-setup-welcome');

  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByRole('heading', { name: 'Connect your AWS account' })).toBeVisible();
  await expect(page.getByTestId('method-profile')).toContainText('No profiles found');

  // A pasted "key,secret" line fills both fields.
  await page.getByLabel('Access key ID').fill(`${KEY_ID},${SECRET}`);
  await expect(page.getByLabel('Access key ID')).toHaveValue(KEY_ID);
  await expect(page.getByLabel('Secret access key')).toHaveValue(SECRET);
  await expect(page.getByLabel('Secret access key')).toHaveAttribute('type', 'password');
  await expect(page.getByText('We recognised an access key and its secret')).toBeVisible();
  await page.getByLabel('Name for this account').fill('Work');
  await page.getByLabel('Region').selectOption('eu-west-3');
  await expect(page.getByLabel('Region')).toContainText('Europe (Paris) — eu-west-3');
  await app.shot('11-setup-keys-form');

  await page.getByRole('button', { name: 'Check and save' }).click();
  await expect(page.getByText(/Checking your keys with AWS/)).toBeVisible();
  await app.shot('12-setup-verifying');

  await expect(page.getByRole('heading', { name: 'Connected, with a few permissions missing' })).toBeVisible();
  await expect(page.getByTestId('identity-account')).toHaveText('123456789012');
  await expect(page.getByTestId('identity-arn')).toHaveText(IDENTITY.arn);
  await expect(page.getByText('iam:CreateRole')).toBeVisible();
  await expect(page.getByText('Attach the IAMFullAccess policy')).toBeVisible();
  await expect(page.getByText('1 permission could not be checked')).toBeVisible();
  await app.shot('13-setup-result-keys');

  expect((await app.calls('add_keys_account'))[0]?.args).toEqual({
    name: 'Work',
    accessKeyId: KEY_ID,
    secretAccessKey: SECRET,
    sessionToken: null,
    region: 'eu-west-3',
  });

  await page.getByRole('button', { name: 'Start a training' }).click();
  await expect(page).toHaveURL(/#\/new$/);
  await expect(page.getByRole('heading', { name: 'New run' })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Main' })).toBeVisible();
});

test('keys form: each field error, and a rejected key shows the message and what to do', async ({ page, app }) => {
  await app.open(
    firstRun({
      errors: {
        add_keys_account: {
          code: 'invalid_keys',
          message: 'AWS does not recognise this access key.',
          hint: 'Check that you copied the whole key, or create a new one in the AWS console (Security credentials).',
        },
      },
    }),
  );
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Name for this account').fill('');
  await page.getByRole('button', { name: 'Check and save' }).click();
  await expect(page.getByText('Paste your access key ID (it starts with AKIA).')).toBeVisible();
  await expect(page.getByText('Paste your secret access key')).toBeVisible();
  await expect(page.getByText('Give this account a name')).toBeVisible();
  await expect(page.getByLabel('Access key ID')).toHaveAttribute('aria-invalid', 'true');
  await page.getByLabel('Access key ID').fill('hello');
  await page.getByLabel('Secret access key').fill('short');
  await page.getByRole('button', { name: 'Check and save' }).click();
  await expect(page.getByText(/An access key ID starts with AKIA/)).toBeVisible();
  await expect(page.getByText(/does not look like a secret access key/)).toBeVisible();
  await app.shot('14-setup-keys-errors');
  expect(await app.calls('add_keys_account')).toHaveLength(0);

  await page.getByLabel('Access key ID').fill(KEY_ID);
  await page.getByLabel('Secret access key').fill(SECRET);
  await page.getByLabel('Name for this account').fill('Work');
  await page.getByRole('button', { name: 'Check and save' }).click();
  const alert = page.getByRole('alert');
  await expect(alert).toContainText('AWS does not recognise this access key.');
  await expect(alert).toContainText('What to do: Check that you copied the whole key');
  await expect(page.getByLabel('Access key ID')).toHaveValue(KEY_ID);
  expect(await app.calls('add_keys_account')).toHaveLength(1);
  await app.shot('15-setup-keys-rejected');
});

test('first run with the local sandbox', async ({ page, app }) => {
  await app.open(
    firstRun({
      results: {
        add_sandbox_account: {
          account: SANDBOX_ACCOUNT,
          identity: { accountId: '123456789012', arn: 'arn:aws:sts::123456789012:user/moto' },
          missingPermissions: [],
          uncheckedPermissions: [],
          permissionCheck: 'sandbox',
        },
      },
      then: { add_sandbox_account: { list_accounts: [SANDBOX_ACCOUNT] } },
    }),
  );
  await page.getByText('Try without an AWS account (practice cloud)').click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByRole('heading', { name: 'Try with the practice cloud' })).toBeVisible();
  // A developer's own sandbox, by its address.
  await page.getByText('Connect to a sandbox you started yourself').click();
  await expect(page.getByLabel('Sandbox address')).toHaveValue('http://127.0.0.1:4566');
  await app.shot('16-setup-sandbox');
  await page.getByRole('button', { name: 'Connect to the sandbox' }).click();
  await expect(page.getByRole('heading', { name: 'You are all set' })).toBeVisible();
  await expect(page.getByText('Local sandbox is connected.')).toBeVisible();
  await expect(page.getByTestId('identity-account')).toContainText('Local sandbox (pretend AWS account 123456789012)');
  // No jargon: the sandbox's ARN is not shown.
  await expect(page.getByText(/arn:aws/)).toHaveCount(0);
  await app.shot('17-setup-result-sandbox');
  expect((await app.calls('add_sandbox_account'))[0]?.args).toEqual({
    name: 'Local sandbox',
    endpoint: 'http://127.0.0.1:4566',
    region: 'us-east-1',
  });
  await page.getByRole('button', { name: 'See my accounts' }).click();
  await expect(page.getByTestId('account-row')).toContainText('Local sandbox');
  await expect(page.getByTestId('account-row')).toContainText('Pretend AWS on this computer');
});

test('sandbox unreachable: the error says how to start it', async ({ page, app }) => {
  await app.open(
    firstRun({
      errors: {
        add_sandbox_account: {
          code: 'sandbox_unreachable',
          message: 'Nothing answers at http://127.0.0.1:4566.',
          hint: 'Start the local sandbox with `tests/sandbox/run` from the easyTDV folder, and use the address it prints.',
        },
      },
    }),
  );
  await page.getByTestId('choice-sandbox').click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByText('Connect to a sandbox you started yourself').click();
  await page.getByRole('button', { name: 'Connect to the sandbox' }).click();
  const alert = page.getByRole('alert');
  await expect(alert).toHaveAttribute('data-code', 'sandbox_unreachable');
  await expect(alert).toContainText('Nothing answers at http://127.0.0.1:4566.');
  await expect(alert.locator('code')).toHaveText('tests/sandbox/run');
  await expect(page.getByRole('heading', { name: 'Try with the practice cloud' })).toBeVisible();
  await app.shot('18-setup-sandbox-unreachable');
});

test('first run with the practice cloud: the app starts it, then adds its account', async ({ page, app }) => {
  const endpoint = 'http://127.0.0.1:4566';
  await app.open(
    firstRun({
      results: {
        start_practice_cloud: endpoint,
        add_sandbox_account: {
          account: { ...SANDBOX_ACCOUNT, name: 'Practice cloud' },
          identity: { accountId: '123456789012', arn: 'arn:aws:sts::123456789012:user/moto' },
          missingPermissions: [],
          uncheckedPermissions: [],
          permissionCheck: 'sandbox',
        },
      },
      delays: { start_practice_cloud: 1500 },
    }),
  );
  await page.getByTestId('choice-sandbox').click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByRole('heading', { name: 'Try with the practice cloud' })).toBeVisible();
  await expect(page.getByText('nothing costs money')).toBeVisible();
  await app.shot('16a-setup-practice');
  await page.getByRole('button', { name: 'Start the practice cloud' }).click();
  await expect(page.getByRole('status')).toContainText('Looking for the practice cloud…');
  await expect(page.getByRole('button', { name: 'Start the practice cloud' })).toHaveCount(0);
  await app.shot('16b-setup-practice-starting');
  await expect(page.getByRole('heading', { name: 'You are all set' })).toBeVisible();
  expect((await app.calls('add_sandbox_account'))[0]?.args).toEqual({ name: 'Practice cloud', endpoint, region: 'us-east-1' });
});

test('practice cloud without Python: the screen says what to install, and Try again', async ({ page, app }) => {
  await app.open(
    firstRun({
      errors: {
        start_practice_cloud: {
          code: 'practice_python_missing',
          message: 'the practice cloud needs Python 3.10 or newer, and none was found',
          hint: 'Install Python 3.10 or newer with its venv module (on Debian or Ubuntu: `sudo apt install python3 python3-venv`; on macOS or Windows: the installer from python.org), then choose Try again.',
        },
      },
    }),
  );
  await page.getByTestId('choice-sandbox').click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('button', { name: 'Start the practice cloud' }).click();
  const alert = page.getByRole('alert');
  await expect(alert).toHaveAttribute('data-code', 'practice_python_missing');
  await expect(alert.locator('code')).toHaveText('sudo apt install python3 python3-venv');
  await expect(page.getByRole('button', { name: 'Try again' })).toBeVisible();
  expect(await app.calls('add_sandbox_account')).toHaveLength(0);
  await app.shot('16c-setup-practice-no-python');
});

test('profile and CSV import: cancelled file dialog stays, profile is used as is', async ({ page, app }) => {
  await app.open(
    firstRun({
      results: {
        detect_profiles: [
          { name: 'lab', region: 'us-east-1', isSso: false },
          { name: 'corp-sso', region: 'eu-central-1', isSso: true },
        ],
        import_csv_account: null,
        add_profile_account: {
          account: { ...KEYS_ACCOUNT, kind: 'profile', profile: 'corp-sso', name: 'AWS profile corp-sso' },
          identity: IDENTITY,
          missingPermissions: [],
          uncheckedPermissions: [],
          permissionCheck: 'rootUser',
        },
      },
    }),
  );
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByTestId('method-csv').click();
  await page.getByRole('button', { name: 'Choose the file and connect' }).click();
  await expect(page.getByRole('heading', { name: 'Connect your AWS account' })).toBeVisible();
  expect(await app.calls('import_csv_account')).toHaveLength(1);

  await page.getByTestId('method-profile').click();
  await expect(page.getByTestId('method-profile')).toContainText('Found 2 profiles');
  await page.getByLabel('Profile', { exact: true }).selectOption('corp-sso');
  await expect(page.getByLabel('Region')).toHaveValue('eu-central-1');
  await app.shot('19-setup-profile');
  await page.getByRole('button', { name: 'Check and save' }).click();
  await expect(page.getByRole('heading', { name: 'You are all set' })).toBeVisible();
  await expect(page.getByRole('note')).toContainText('root user');
  expect((await app.calls('add_profile_account'))[0]?.args).toEqual({
    name: 'AWS profile corp-sso',
    profile: 'corp-sso',
    region: 'eu-central-1',
  });
});

const PLAN = (user = 'easytdv'): SetupPlan => ({
  accountId: '123456789012',
  adminArn: 'arn:aws:iam::123456789012:user/admin',
  adminIsRoot: false,
  userName: user,
  steps: [
    { action: 'create', what: 'the policy easytdv-boundary', why: 'caps every role a run creates' },
    { action: 'update', what: 'the policy easytdv-user-policy', why: 'what a run changes' },
    { action: 'keep', what: 'the policy easytdv-read-policy', why: 'what easyTDV reads' },
    { action: 'create', what: `the IAM user ${user}`, why: 'the identity easyTDV signs in as' },
    {
      action: 'review',
      what: 'the role easytdv-old-launcher',
      why: 'may be taken on by something other than an AWS service: delete it in the IAM console unless you made it on purpose',
    },
    { action: 'create', what: `an access key of ${user}`, why: 'kept only in this computer’s keychain' },
  ],
});
const MADE: AccountSetup = {
  account: { ...KEYS_ACCOUNT, name: 'Work', maskedKeyId: 'AKIA…ETDV' },
  identity: { accountId: '123456789012', arn: 'arn:aws:iam::123456789012:user/easytdv' },
  missingPermissions: [],
  uncheckedPermissions: [],
  permissionCheck: 'simulated',
};

test('set up with an administrator profile: what will be created is shown first, then easyTDV’s own identity is connected', async ({
  page,
  app,
}) => {
  await app.open(
    firstRun({
      results: {
        detect_profiles: [{ name: 'admin', region: 'eu-west-3', isSso: true }],
        plan_aws_setup: PLAN(),
        set_up_aws: MADE,
      },
      delays: { set_up_aws: 400 },
    }),
  );
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Name for this account').fill('Work');
  await page.getByTestId('open-setup').click();
  await expect(page.getByRole('heading', { name: 'Set up easyTDV on your AWS account' })).toBeVisible();
  await expect(page.getByLabel('Administrator profile')).toHaveValue('admin');
  await expect(page.getByLabel('Name of easyTDV’s IAM user')).toHaveValue('easytdv');
  // Nothing is created before the person has seen the plan.
  await page.getByRole('button', { name: 'Show what will be created' }).click();
  const plan = page.getByTestId('setup-plan');
  await expect(plan).toContainText('What easyTDV will do in account 123456789012');
  await expect(plan.locator('li[data-action="create"]')).toHaveCount(3);
  await expect(plan.locator('li[data-action="update"]')).toContainText('easytdv-user-policy');
  await expect(plan.locator('li[data-action="keep"]')).toContainText('Already there');
  // A role easyTDV would not have made (one that another account may take on) is named.
  await expect(plan.locator('li[data-action="review"]')).toContainText('Look at this');
  await expect(plan.locator('li[data-action="review"]')).toContainText('easytdv-old-launcher');
  await expect(plan).toContainText('It costs nothing');
  expect(await app.calls('set_up_aws')).toHaveLength(0);
  expect((await app.calls('plan_aws_setup'))[0]!.args).toMatchObject({ admin: { kind: 'profile', profile: 'admin' }, userName: 'easytdv' });
  await app.shot('16-setup-admin-plan');
  await page.getByTestId('setup-apply').click();
  await expect(page.getByText('Creating easyTDV’s identity')).toBeVisible();
  await expect(page.getByRole('heading', { name: 'You are all set' })).toBeVisible();
  await expect(page.getByTestId('identity-arn')).toHaveText('arn:aws:iam::123456789012:user/easytdv');
  const sent = (await app.calls('set_up_aws'))[0]!.args;
  expect(sent).toMatchObject({ admin: { kind: 'profile', profile: 'admin' }, name: 'Work', userName: 'easytdv' });
});

test('root keys are not kept: the setup is offered with them, and they go only to the setup', async ({ page, app }) => {
  await app.open(
    firstRun({
      errors: {
        add_keys_account: {
          code: 'root_keys',
          message: 'these are the root user’s keys of the AWS account',
          hint: 'Let easyTDV set up its own identity with them once.',
        },
      },
      results: { plan_aws_setup: { ...PLAN(), adminArn: 'arn:aws:iam::123456789012:root', adminIsRoot: true }, set_up_aws: MADE },
    }),
  );
  await page.getByRole('button', { name: 'Continue' }).click();
  // The help no longer leads a root user to make root keys.
  await page.getByText('Where do I find my access key?').click();
  await expect(page.getByText(/do not create access keys for it/)).toBeVisible();
  await page.getByLabel('Access key ID').fill(KEY_ID);
  await page.getByLabel('Secret access key').fill(SECRET);
  await page.getByRole('button', { name: 'Check and save' }).click();
  await expect(page.getByRole('heading', { name: 'Set up easyTDV on your AWS account' })).toBeVisible();
  await expect(page.getByTestId('root-keys')).toContainText('root user');
  await expect(page.getByTestId('root-keys')).toContainText('delete the root keys');
  await expect(page.getByLabel('Administrator profile')).toHaveCount(0);
  await app.shot('17-setup-root-keys');
  await page.getByRole('button', { name: 'Show what will be created' }).click();
  await page.getByTestId('setup-apply').click();
  await expect(page.getByRole('heading', { name: 'You are all set' })).toBeVisible();
  const sent = (await app.calls('set_up_aws'))[0]!.args;
  expect(sent.admin).toEqual({ kind: 'keys', accessKeyId: KEY_ID, secretAccessKey: SECRET, sessionToken: null });
});
