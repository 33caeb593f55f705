import type { Page } from '@playwright/test';
import {
  KEYS_ACCOUNT,
  PROJECT,
  REQUEST,
  RUN_ID,
  SCRIPT,
  runEvents,
  runRecord,
  signedIn,
  REQUIREMENTS,
  DATA_FOLDER as POINTS,
} from './data';
import { expect, scenario, test } from './fixtures';

const BAD_URL = 's3://My_Data/points';
const GOOD_URL = 's3://marie-datasets/points';

async function next(page: Page, heading: string) {
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByRole('heading', { name: heading, exact: true })).toBeVisible();
}

test('data folder: chosen on the Code step, summed up, shown on Review, and the run request carries it', async ({ page, app }) => {
  await app.open(
    scenario({ results: signedIn({ project_summary: PROJECT, pick_data_folder: POINTS }), streams: { start_run: runEvents() } }),
    '#/new',
  );
  await page.getByRole('button', { name: 'Choose script…' }).click();
  const card = page.getByRole('region', { name: 'Data (optional)' });
  await expect(card).toContainText('DATA_DIR');
  await app.shot('60-data-card-empty');

  await card.getByRole('button', { name: 'Choose a data folder…' }).click();
  await expect(card.getByTestId('data-headline')).toHaveText(
    '2 files, 1.2 MB — sent once to your bucket, then only what changed; on the machine at DATA_DIR.',
  );
  await expect(card).toContainText('/home/marie/datasets/points');
  await expect(card.getByRole('list', { name: 'Largest data files' })).toContainText('points.csv (1.2 MB)');
  await expect(card.getByTestId('data-engine-note')).toContainText("On managed training (SageMaker) the data is the job's input channel");
  await app.shot('61-data-card-folder');

  await next(page, 'Machine');
  await next(page, 'Storage');
  await next(page, 'Review and launch');
  await expect(page.getByTestId('review-data')).toContainText('/home/marie/datasets/points — 2 files, 1.2 MB, sent once to your bucket');
  await page.getByRole('button', { name: 'Launch training' }).click();
  const request = (await app.calls('start_run'))[0]?.args.request as Record<string, unknown>;
  expect(request.data).toEqual({ kind: 'folder', path: POINTS.path });
});

test('data in S3: a location typed wrong is refused with what to do, then typed right is sent as the backend wrote it', async ({
  page,
  app,
}) => {
  await app.open(
    scenario({
      results: signedIn({
        project_summary: PROJECT,
        check_data_location: { url: 's3://marie-datasets/points/', bucket: 'marie-datasets', prefix: 'points/' },
      }),
      errorsWhen: {
        check_data_location: [
          {
            args: { text: BAD_URL },
            error: {
              code: 'data_bad_s3_url',
              message: `${BAD_URL} is not an S3 location: the bucket name is not a valid S3 bucket name`,
              hint: 'Write it as s3://bucket-name/path/to/folder/ (copy it from the S3 console\'s "Copy S3 URI").',
            },
          },
        ],
      },
      streams: { start_run: runEvents() },
    }),
    '#/new',
  );
  await page.getByRole('button', { name: 'Choose script…' }).click();
  const card = page.getByRole('region', { name: 'Data (optional)' });
  await card.getByRole('button', { name: 'Use data already in S3' }).click();
  const field = card.getByLabel('Where your data is in S3');
  await expect(card).toContainText(
    "Read in place: it stays where it is. Its bucket must be in the run's region and readable by your easyTDV keys",
  );

  // Next before anything is typed: asked for the location.
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(card).toContainText('Type the S3 location of your data');

  await field.fill(BAD_URL);
  await expect(card).toContainText(
    `${BAD_URL} is not an S3 location: the bucket name is not a valid S3 bucket name. Write it as s3://bucket-name/`,
  );
  await expect(field).toHaveAttribute('aria-invalid', 'true');
  await app.shot('62-data-card-s3-wrong');
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByRole('heading', { name: 'Your code' })).toBeVisible();

  await field.fill(GOOD_URL);
  await expect(card.getByTestId('data-url-ok')).toContainText('The run reads s3://marie-datasets/points/ into DATA_DIR');
  await expect(field).not.toHaveAttribute('aria-invalid', 'true');
  await app.shot('63-data-card-s3');
  expect((await app.calls('check_data_location')).map((c) => c.args.text)).toEqual([BAD_URL, GOOD_URL]);

  await next(page, 'Machine');
  await next(page, 'Storage');
  await next(page, 'Review and launch');
  await expect(page.getByTestId('review-data')).toContainText('s3://marie-datasets/points/ — read in place');
  await page.getByRole('button', { name: 'Launch training' }).click();
  const request = (await app.calls('start_run'))[0]?.args.request as Record<string, unknown>;
  expect(request.data).toEqual({ kind: 's3', url: 's3://marie-datasets/points/' });
});

test('data on SageMaker: a folder launches; an S3 location outside easytdv/ cannot, and says how to fix it', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn({
        project_summary: PROJECT,
        pick_data_folder: POINTS,
        check_data_location: { url: 's3://marie-datasets/points/', bucket: 'marie-datasets', prefix: 'points/' },
      }),
      streams: { start_run: runEvents() },
    }),
    '#/new',
  );
  await page.getByRole('button', { name: 'Choose script…' }).click();
  const card = page.getByRole('region', { name: 'Data (optional)' });
  await card.getByRole('button', { name: 'Use data already in S3' }).click();
  await card.getByLabel('Where your data is in S3').fill(GOOD_URL);
  await expect(card.getByTestId('data-url-ok')).toBeVisible();
  await next(page, 'Machine');
  await page.getByRole('radio', { name: 'Managed training (SageMaker)' }).check();
  await next(page, 'Storage');
  await next(page, 'Review and launch');
  await page.getByRole('button', { name: 'Launch training' }).click();
  await expect(page.getByTestId('review-data-error')).toHaveText(
    'A SageMaker job reads an S3 location only under easytdv/ in a bucket of this account: copy the data under s3://<bucket>/easytdv/…, choose it as a folder on the Code step, or choose “One machine (EC2)”.',
  );
  await app.shot('64-data-sagemaker-s3-outside-easytdv');
  expect(await app.calls('start_run')).toEqual([]);

  // A data folder is the job's input channel: it launches.
  await page.getByRole('button', { name: 'Change code' }).click();
  await page.getByRole('region', { name: 'Data (optional)' }).getByRole('button', { name: 'Remove' }).click();
  await page.getByRole('button', { name: 'Choose a data folder…' }).click();
  await expect(page.getByTestId('data-headline')).toBeVisible();
  await next(page, 'Machine');
  await next(page, 'Storage');
  await next(page, 'Review and launch');
  await expect(page.getByTestId('review-data-error')).toHaveCount(0);
  await page.getByRole('button', { name: 'Launch training' }).click();
  await expect.poll(async () => (await app.calls('start_run')).length).toBe(1);
  const request = (await app.calls('start_run'))[0]?.args.request as Record<string, unknown>;
  expect(request.data).toEqual({ kind: 'folder', path: POINTS.path });
  expect(request.engine).toMatchObject({ kind: 'sageMaker' });
});

test('data: the run page shows the run’s data, and Run again with changes keeps it', async ({ page, app }) => {
  const request = { ...REQUEST, data: { kind: 'folder' as const, path: POINTS.path } };
  await app.open(
    scenario({
      results: signedIn({
        list_runs: [runRecord('succeeded', { request })],
        reuse_run: { accountId: KEYS_ACCOUNT.id, request, script: SCRIPT, requirements: REQUIREMENTS, dataFolder: POINTS },
        run_metrics: [],
      }),
      streams: { start_run: runEvents() },
    }),
    `#/runs/${RUN_ID}`,
  );
  await expect(page.getByTestId('run-data')).toHaveText(`${POINTS.path} (a folder on this computer, in DATA_DIR)`);
  await page.getByRole('button', { name: 'Run again with changes' }).click();
  await expect(page.getByRole('heading', { name: 'Review and launch' })).toBeVisible();
  await expect(page.getByTestId('review-data')).toContainText(`${POINTS.path} — 2 files, 1.2 MB`);
  await page.getByRole('button', { name: 'Launch training' }).click();
  await expect.poll(async () => (await app.calls('start_run')).length).toBe(1);
  expect(((await app.calls('start_run'))[0]?.args.request as Record<string, unknown>).data).toEqual({ kind: 'folder', path: POINTS.path });
});
