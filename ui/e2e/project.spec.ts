import { KEYS_ACCOUNT, PROJECT, REQUIREMENTS, SCRIPT, runEvents, signedIn } from './data';
import { expect, scenario, test, pickCode } from './fixtures';
import type { ProjectView } from './wire';

/** /home/marie chosen as the project: the script stays, a large file inside triggers the warning. */
const HOME: ProjectView = {
  ...PROJECT,
  projectDir: '/home/marie',
  summary: {
    ...PROJECT.summary,
    root: '/home/marie',
    entry: 'project/train.py',
    fileCount: 214,
    totalBytes: 1.3e9,
    headline: '214 files, 1.2 GB',
    largest: [
      { path: 'downloads/images.zip', sizeBytes: 9e8, size: '858.3 MB' },
      { path: 'downloads/big.npy', sizeBytes: 3e8, size: '286.1 MB' },
      { path: 'project/data/points.csv', sizeBytes: 24_000, size: '23.4 KB' },
    ],
    warning: '1.1 GB in 2 files: is this data? Put it in the data folder instead, or list it in .easytdvignore so it is not sent as code',
    notes: ['link-to-etc: a link to a place outside the project, not sent'],
    requirements: 'project/requirements.txt',
  },
};

test('Code step: the script’s folder is the project, its requirements.txt is found, and what is sent is shown', async ({ page, app }) => {
  await app.open(scenario({ results: signedIn({ project_summary: PROJECT }), streams: { start_run: runEvents() } }), '#/new');
  const card = page.getByTestId('project');
  await expect(card).toContainText('The folder of your script is your project');
  await pickCode(page, { requirements: false });

  await expect(page.getByTestId('project-headline')).toHaveText('5 files, 30.8 KB will be sent');
  await expect(card).toContainText('/home/marie/project');
  await expect(card.getByRole('list', { name: 'Largest files' })).toContainText('data/points.csv (23.4 KB)');
  await expect(page.getByTestId('project-left-out')).toContainText('Never sent: .git, .venv, __pycache__.');
  await expect(page.getByTestId('project-warning')).toHaveCount(0);
  // requirements.txt was found in the folder: nothing else to choose.
  await expect(page.getByTestId('file-requirements')).toContainText('4 packages will be installed with pip');
  await expect(page.getByTestId('requirements-note')).toHaveText('Found in your project folder.');
  expect((await app.calls('project_summary'))[0]?.args).toEqual({ root: null, script: SCRIPT.path, requirements: null });
  await app.shot('29-wizard-code-project');

  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Launch training' }).click();
  const request = (await app.calls('start_run'))[0]?.args.request as Record<string, unknown>;
  expect(request).toMatchObject({ scriptPath: SCRIPT.path, requirementsPath: REQUIREMENTS.path });
  // The script's own folder: the backend's default, no projectDir sent.
  expect(request).not.toHaveProperty('projectDir');
  expect((await app.calls('start_run'))[0]?.args.accountId).toBe(KEYS_ACCOUNT.id);
});

test('Code step: another folder chosen is the project, with the warning for large files, and the run carries it', async ({ page, app }) => {
  await app.open(
    scenario({ results: signedIn({ project_summary: PROJECT, pick_project: HOME }), streams: { start_run: runEvents() } }),
    '#/new',
  );
  await pickCode(page, { requirements: false });
  await expect(page.getByTestId('project-headline')).toContainText('5 files');
  await page.getByRole('button', { name: 'Choose another folder…' }).click();
  expect((await app.calls('pick_project'))[0]?.args).toEqual({ script: SCRIPT.path });

  await expect(page.getByTestId('project-headline')).toHaveText('214 files, 1.2 GB will be sent');
  await expect(page.getByTestId('project-warning')).toHaveText(/^1\.1 GB in 2 files: is this data\? Put it in the data folder instead/);
  await expect(page.getByRole('list', { name: 'Largest files' })).toContainText('downloads/images.zip (858.3 MB)');
  await expect(page.getByRole('list', { name: 'Not sent' })).toContainText('link-to-etc');
  await app.shot('30-wizard-code-project-warning');

  for (let i = 0; i < 3; i++) await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Launch training' }).click();
  const request = (await app.calls('start_run'))[0]?.args.request as Record<string, unknown>;
  expect(request).toMatchObject({ scriptPath: SCRIPT.path, requirementsPath: REQUIREMENTS.path, projectDir: '/home/marie' });
});

test('Code step: a folder the backend refuses says why; a dropped folder is summarised as the project', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn({ project_summary: PROJECT }),
      errors: {
        pick_project: {
          code: 'entry_outside_project',
          message: '/home/marie/project/train.py is not inside /home/marie/other: the script must be in the project folder.',
          hint: 'Choose the folder that holds your script, or a script inside the folder.',
        },
      },
    }),
    '#/new',
  );
  await pickCode(page, { requirements: false });
  await page.getByRole('button', { name: 'Choose another folder…' }).click();
  await expect(page.getByTestId('project').getByRole('alert')).toContainText('the script must be in the project folder');
  await expect(page.getByTestId('project').getByRole('alert')).toContainText('Choose the folder that holds your script');
  // The project seen before stays.
  await expect(page.getByTestId('project-headline')).toContainText('5 files');

  await page.evaluate(() =>
    (window as unknown as { __MOCK_EMIT__: (e: string, p: unknown) => void }).__MOCK_EMIT__('tauri://drag-drop', {
      paths: ['/home/marie/project'],
      position: { x: 10, y: 10 },
    }),
  );
  await expect
    .poll(async () => (await app.calls('project_summary')).at(-1)?.args)
    .toEqual({
      root: '/home/marie/project',
      script: null,
      requirements: null,
    });
  await expect(page.getByTestId('project').getByRole('alert')).toHaveCount(0);
});

test('Code step: a uv project’s lock is found and said to be installed exactly as pinned', async ({ page, app }) => {
  const lock = { path: '/home/marie/project/uv.lock', name: 'uv.lock', sizeBytes: 538, packages: ['tinydep==0.1.0'] };
  await app.open(
    scenario({
      results: signedIn({
        project_summary: { ...PROJECT, summary: { ...PROJECT.summary, requirements: 'uv.lock' }, requirements: lock },
      }),
    }),
    '#/new',
  );
  await pickCode(page, { requirements: false });
  const reqs = page.getByTestId('file-requirements');
  await expect(reqs).toContainText('uv.lock');
  await expect(reqs).toContainText('1 package will be installed exactly as your uv.lock pins them (uv sync --frozen)');
  await expect(page.getByTestId('requirements-note')).toHaveText('Found in your project folder.');
});
