import { signedIn } from './data';
import { expect, scenario, test, pickCode } from './fixtures';

test('home shows the product, navigation and an empty Runs list that says what to do', async ({ page, app }) => {
  await app.open(scenario({ results: signedIn() }));
  await expect(page.getByRole('link', { name: 'easyTDV home' })).toBeVisible();
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link', { name: 'Runs' })).toHaveAttribute('aria-current', 'page');
  await expect(nav.getByRole('link', { name: 'New run' })).toBeVisible();
  await expect(nav.getByRole('link', { name: 'Accounts' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'No runs yet' })).toBeVisible();
  await expect(page.getByText(/No runs yet — start your first training with New run/)).toBeVisible();
  await expect(page.getByTestId('version')).toHaveText('easyTDV 0.1.0');
  await app.shot('01-home-empty');
});

test('navigation is keyboard operable', async ({ page, app }) => {
  await app.open(scenario({ results: signedIn() }));
  await page.keyboard.press('Tab'); // skip link
  await page.keyboard.press('Tab'); // brand
  await page.keyboard.press('Tab'); // Runs
  await page.keyboard.press('Tab'); // New run
  await expect(page.getByRole('link', { name: 'New run' }).first()).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/#\/new$/);
});

test('dist is served with the app CSP and runs under it', async ({ page, app }) => {
  const response = await page.request.get('/');
  expect(response.headers()['content-security-policy']).toContain("default-src 'self'");
  await app.open(scenario({ results: signedIn() }));
  await expect(page.getByRole('heading', { name: 'Runs', exact: true })).toBeVisible();
});

test('the smallest window (820 × 580) still fits every screen', async ({ page, app }) => {
  await page.setViewportSize({ width: 820, height: 580 });
  await app.open(scenario({ results: signedIn() }), '#/new');
  await pickCode(page);
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByRole('radio', { name: /t3\.medium/ })).toBeChecked();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow).toBe(0);
  await app.shot('90-narrow-wizard-machine');
  await page.getByRole('link', { name: 'Accounts' }).click();
  await expect(page.getByTestId('account-row')).toHaveCount(1);
  expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0);
  await app.shot('91-narrow-accounts');
});
