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
import { expect, scenario, test, pickCode } from './fixtures';
import type { DataReview } from './wire';

const BAD_URL = 's3://My_Data/points';
const GOOD_URL = 's3://marie-datasets/points';

/** review_data for POINTS: counted and priced by the backend (S3 Standard at $0.023/GB-month). */
const FOLDER_REVIEW: DataReview = {
  kind: 'folder',
  source: POINTS.path,
  fileCount: 2,
  totalBytes: 1_203_000,
  atLeast: false,
  headline: '2 files, 1.2 MB',
  usdPerMonth: (1_203_000 / 1e9) * 0.023,
  bucketRegion: null,
  sameRegion: false,
};
/** review_data for GOOD_URL: listed with the account's keys, stopped at 10,000 objects. */
const S3_REVIEW: DataReview = {
  kind: 's3',
  source: 's3://marie-datasets/points/',
  fileCount: 10_000,
  totalBytes: 5_400_000_000,
  atLeast: true,
  headline: 'at least 10,000 files, 5.4 GB',
  usdPerMonth: null,
  bucketRegion: 'eu-west-3',
  sameRegion: true,
};

async function next(page: Page, heading: string) {
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByRole('heading', { name: heading, exact: true })).toBeVisible();
}

test('data folder: chosen on the Code step, summed up, shown on Review, and the run request carries it', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn({ project_summary: PROJECT, pick_data_folder: POINTS, review_data: FOLDER_REVIEW }),
      streams: { start_run: runEvents() },
    }),
    '#/new',
  );
  await pickCode(page, { requirements: false });
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
  // What is sent and what keeping it costs, as the backend counted and priced it.
  const transfer = page.getByTestId('review-transfer');
  await expect(transfer.getByTestId('review-transfer-project')).toHaveText(
    'Project: 5 files, 30.8 KB — sent once to your bucket; later runs send only the files that changed.',
  );
  await expect(transfer.getByTestId('review-transfer-data')).toHaveText([
    'Data: 2 files, 1.2 MB — sent once to your bucket; later runs send only the files that changed.',
    'Keeping it there costs under $0.01/month (S3 Standard storage) until you delete it under Runs → Stored in your bucket.',
  ]);
  expect((await app.calls('review_data'))[0]?.args).toEqual({
    accountId: KEYS_ACCOUNT.id,
    region: 'eu-west-3',
    data: { kind: 'folder', path: POINTS.path },
  });
  await page.getByTestId('cost-card').scrollIntoViewIfNeeded();
  await app.shot('64-review-data-folder');
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
        review_data: S3_REVIEW,
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
  await pickCode(page, { requirements: false });
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
  await expect(page.getByTestId('review-transfer-data')).toHaveText([
    'Data: Read in place from s3://marie-datasets/points/ (at least 10,000 files, 5.4 GB: counted no further): nothing is copied or stored by easyTDV.',
    "Its bucket is in eu-west-3, like the run: reading it from the run's machine has no data transfer charge.",
  ]);
  expect((await app.calls('review_data'))[0]?.args.data).toEqual({ kind: 's3', url: 's3://marie-datasets/points/' });
  await page.getByTestId('cost-card').scrollIntoViewIfNeeded();
  await app.shot('65-review-data-s3');
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
  await pickCode(page, { requirements: false });
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
    'A SageMaker job reads an S3 location only under easytdv/ in a bucket of this account (not easyTDV’s own folders blobs/, cache/ or runs/ other than a run’s outputs): copy the data under s3://<bucket>/easytdv/…, choose it as a folder on the Code step, or choose “One machine (EC2)”.',
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

test('data in S3 in another region: the Review says the launch will refuse it and claims no free transfer; a failed look is told, not fatal', async ({
  page,
  app,
}) => {
  await app.open(
    scenario({
      results: signedIn({
        project_summary: PROJECT,
        check_data_location: { url: 's3://marie-datasets/points/', bucket: 'marie-datasets', prefix: 'points/' },
        review_data: {
          ...S3_REVIEW,
          fileCount: 0,
          totalBytes: 0,
          atLeast: false,
          headline: '',
          bucketRegion: 'us-west-2',
          sameRegion: false,
        },
      }),
    }),
    '#/new',
  );
  await pickCode(page, { requirements: false });
  const card = page.getByRole('region', { name: 'Data (optional)' });
  await card.getByRole('button', { name: 'Use data already in S3' }).click();
  await card.getByLabel('Where your data is in S3').fill(GOOD_URL);
  await expect(card.getByTestId('data-url-ok')).toBeVisible();
  await next(page, 'Machine');
  await next(page, 'Storage');
  await next(page, 'Review and launch');
  const data = page.getByTestId('review-transfer-data');
  await expect(data).toContainText('its bucket is in us-west-2, not in eu-west-3 where the run is: the launch will refuse it');
  await expect(page.getByTestId('review-transfer')).not.toContainText('no data transfer charge');
});

test('data review: S3 could not be asked: said in plain words, the launch stays possible', async ({ page, app }) => {
  await app.open(
    scenario({
      results: signedIn({
        project_summary: PROJECT,
        check_data_location: { url: 's3://marie-datasets/points/', bucket: 'marie-datasets', prefix: 'points/' },
      }),
      errors: {
        review_data: {
          code: 'data_not_readable',
          message: "easyTDV cannot read s3://marie-datasets/points/ with this account's keys (AccessDenied)",
          hint: null,
        },
      },
    }),
    '#/new',
  );
  await pickCode(page, { requirements: false });
  const card = page.getByRole('region', { name: 'Data (optional)' });
  await card.getByRole('button', { name: 'Use data already in S3' }).click();
  await card.getByLabel('Where your data is in S3').fill(GOOD_URL);
  await expect(card.getByTestId('data-url-ok')).toBeVisible();
  await next(page, 'Machine');
  await next(page, 'Storage');
  await next(page, 'Review and launch');
  await expect(page.getByTestId('review-transfer-problem')).toContainText(
    "could not be looked at now (easyTDV cannot read s3://marie-datasets/points/ with this account's keys (AccessDenied)). The launch checks it again.",
  );
  await expect(page.getByRole('button', { name: 'Launch training' })).toBeEnabled();
});
