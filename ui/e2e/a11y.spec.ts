import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { KEYS_ACCOUNT, PROFILE_ACCOUNT, REGIONS, runEvents, runRecord, signedIn } from './data';
import { expect, scenario, test, pickCode } from './fixtures';

async function axe(page: Page, name: string) {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const summary = result.violations.map((v) => `${name}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(summary).toEqual([]);
}

for (const scheme of ['light', 'dark'] as const) {
  test.describe(`${scheme} colour scheme`, () => {
    test.use({ colorScheme: scheme });

    test(`every screen passes axe (WCAG 2.1 AA) in ${scheme}`, async ({ page, app }) => {
      // Nine axe runs: slow on a busy 2-core machine (a Rust build beside it), so more than the default 20 s.
      test.setTimeout(60_000);
      await app.open(
        scenario({
          results: signedIn({
            list_accounts: [KEYS_ACCOUNT, PROFILE_ACCOUNT],
            list_runs: [
              runRecord('failed', { lastStep: 'stack' }),
              runRecord('succeeded', { runId: 'r2', createdAt: '2026-11-25T10:00:00Z' }),
            ],
            retry_run: null,
          }),
          streams: { start_run: runEvents('requirements') },
          streamDelayMs: 5,
        }),
      );
      await expect(page.getByTestId('run-row')).toHaveCount(2);
      await axe(page, 'runs');
      if (scheme === 'dark') await app.shot('80-dark-runs');

      await page.getByRole('link', { name: 'Accounts' }).click();
      await expect(page.getByTestId('account-row')).toHaveCount(2);
      await axe(page, 'accounts');

      await page.getByRole('link', { name: 'Add account' }).click();
      await axe(page, 'add account');
      await page.getByRole('button', { name: 'Continue' }).click();
      await expect(page.getByLabel('Access key ID')).toBeVisible();
      await axe(page, 'keys form');
      if (scheme === 'dark') await app.shot('81-dark-keys-form');

      await page.getByRole('link', { name: 'New run' }).click();
      await page.getByRole('button', { name: 'Next' }).click(); // show the errors too
      await axe(page, 'wizard code (errors)');
      await pickCode(page);
      await page.getByRole('button', { name: 'Next' }).click();
      await expect(page.getByRole('radio', { name: /t3\.medium/ })).toBeChecked();
      await axe(page, 'wizard machine');
      if (scheme === 'dark') await app.shot('82-dark-wizard-machine');
      await page.getByRole('button', { name: 'Next' }).click();
      await expect(page.getByLabel('Bucket name')).not.toHaveValue('');
      await axe(page, 'wizard storage');
      await page.getByRole('button', { name: 'Next' }).click();
      await axe(page, 'wizard review');
      await page.getByRole('button', { name: 'Launch training' }).click();
      await expect(page.getByTestId('failure')).toBeVisible();
      await axe(page, 'run failed');
      if (scheme === 'dark') await app.shot('83-dark-run-failed');
    });
  });
}

test('first-run setup passes axe', async ({ page, app }) => {
  await app.open(scenario({ results: { list_accounts: [], list_regions: REGIONS, detect_profiles: [] } }));
  await expect(page.getByRole('heading', { name: 'Welcome to easyTDV' })).toBeVisible();
  await axe(page, 'welcome');
});

test('the whole wizard works with the keyboard alone', async ({ page, app }) => {
  await app.open(scenario({ results: signedIn(), streams: { start_run: runEvents() }, streamDelayMs: 5 }), '#/new');
  await expect(page.getByRole('heading', { name: 'Your code' })).toBeVisible();
  const press = async (key: string, times = 1) => {
    for (let i = 0; i < times; i++) await page.keyboard.press(key);
  };
  // Tab until a control with the given accessible name has focus, then press Enter.
  const activate = async (name: string | RegExp) => {
    for (let i = 0; i < 40; i++) {
      await press('Tab');
      const focused = await page.evaluate(() => {
        const el = document.activeElement as HTMLElement | null;
        return el ? (el.getAttribute('aria-label') ?? el.innerText ?? '').trim() : '';
      });
      if (typeof name === 'string' ? focused === name : name.test(focused)) {
        await press('Enter');
        return;
      }
    }
    throw new Error(`never reached ${String(name)} with Tab`);
  };
  await activate('Choose script…');
  await expect(page.getByTestId('file-script')).toContainText('train.py');
  await activate('Choose requirements.txt…');
  await expect(page.getByTestId('file-requirements')).toContainText('requirements.txt');
  await activate('Next');
  await expect(page.getByRole('heading', { name: 'Machine', exact: true })).toBeVisible();
  await activate('Next');
  await expect(page.getByRole('heading', { name: 'Storage' })).toBeVisible();
  await activate('Next');
  await activate('Launch training');
  await expect(page.getByTestId('success')).toBeVisible();
});

test('the run view with its log and charts, and the compare view, pass axe', async ({ page, app }) => {
  test.setTimeout(40_000);
  const curve = { name: 'loss', byStep: true, x: [1, 2, 3], y: [0.9, 0.5, 0.3] };
  await app.open(
    scenario({
      results: signedIn({
        list_runs: [runRecord('succeeded'), runRecord('succeeded', { runId: 'r2', createdAt: '2026-11-25T10:00:00Z' })],
        run_metrics: [curve],
      }),
      logs: {
        [`20261126-143000-a1b2c3/train`]: {
          lines: [
            { atMs: 1, stream: 'out', text: 'epoch 1 loss 0.9' },
            { atMs: 2, stream: 'err', text: 'warning: slow' },
          ],
        },
      },
    }),
    '#/runs/20261126-143000-a1b2c3',
  );
  await expect(page.getByTestId('chart-loss')).toBeVisible();
  await expect(page.getByTestId('log-viewport').locator('.line')).toHaveCount(2);
  await axe(page, 'run with log and charts');
  await page.goto('/#/compare/20261126-143000-a1b2c3,r2');
  await expect(page.getByTestId('compare-run')).toHaveCount(2);
  await axe(page, 'compare');
});
