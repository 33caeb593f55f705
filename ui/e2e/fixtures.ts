import { test as base, expect, type Page } from '@playwright/test';
import fs from 'node:fs';
import path from 'node:path';
import { installMockBackend, type Scenario } from './mock-backend';

export { expect };

export const SCREENSHOT_DIR = path.join(import.meta.dirname, '..', 'test-results', 'screenshots');

export function scenario(partial: Partial<Scenario> = {}): Scenario {
  return {
    results: { ...(partial.results ?? {}) },
    errors: { ...(partial.errors ?? {}) },
    errorsWhen: { ...(partial.errorsWhen ?? {}) },
    delays: { ...(partial.delays ?? {}) },
    streams: { ...(partial.streams ?? {}) },
    streamDelayMs: partial.streamDelayMs ?? 20,
    streamHolds: { ...(partial.streamHolds ?? {}) },
    sequences: { ...(partial.sequences ?? {}) },
    then: { ...(partial.then ?? {}) },
    thenStreamed: { ...(partial.thenStreamed ?? {}) },
    feeds: { ...(partial.feeds ?? {}) },
    watchGoesOnAfterMs: partial.watchGoesOnAfterMs ?? 0,
    logs: { ...(partial.logs ?? {}) },
    logGrowth: [...(partial.logGrowth ?? [])],
    downloadProgress: [...(partial.downloadProgress ?? [])],
  };
}

export interface Harness {
  /** Install the fake backend and open the app at `hash`. */
  open(s: Scenario, hash?: string): Promise<void>;
  /** Every IPC call so far, as { cmd, args }. */
  calls(cmd?: string): Promise<{ cmd: string; args: Record<string, unknown> }[]>;
  shot(name: string): Promise<void>;
}

export const test = base.extend<{ app: Harness }>({
  app: async ({ page }, use) => {
    fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) errors.push(m.text());
    });
    await use(makeHarness(page));
    expect(errors, 'uncaught errors or CSP violations in the page').toEqual([]);
  },
});

function makeHarness(page: Page): Harness {
  return {
    async open(s, hash = '#/runs') {
      await page.addInitScript(installMockBackend, s);
      await page.goto(`/${hash}`);
    },
    async calls(cmd) {
      const all = (await page.evaluate(() => (window as unknown as { __IPC_CALLS__: unknown }).__IPC_CALLS__)) as {
        cmd: string;
        args: Record<string, unknown>;
      }[];
      return cmd ? all.filter((c) => c.cmd === cmd) : all;
    },
    async shot(name) {
      // Full-page shots with a sticky header look wrong unless taken from the top.
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
    },
  };
}

/**
 * Picks the mock's script (and, unless `requirements` is false, its requirements.txt) as a person would: each
 * click once the page has stopped moving. Two things move the buttons after the page opens: the drop hint,
 * shown once the window's drag-and-drop listener is in place (a late import), and the project's summary,
 * which grows its card. A click sent while a button moves lands elsewhere and is lost (seen in CI).
 */
export async function pickCode(page: Page, { requirements = true }: { requirements?: boolean } = {}) {
  const project = page.getByTestId('project');
  await expect(page.getByText('You can also drag your script, or its folder, onto this window.')).toBeVisible();
  await page.getByRole('button', { name: 'Choose script…' }).click();
  await expect(page.getByRole('button', { name: 'Change Training script' })).toBeVisible();
  await expect(project.getByRole('status')).toHaveCount(0);
  if (!requirements) return;
  await page.getByRole('button', { name: 'Choose requirements.txt…' }).click();
  await expect(page.getByRole('button', { name: 'Change Requirements' })).toBeVisible();
  await expect(project.getByRole('status')).toHaveCount(0);
}
