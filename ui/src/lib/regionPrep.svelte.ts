// A region made ready while the user fills in the wizard (issue 22): its bucket and easyTDV's shared
// resources, which a first run there would otherwise create and wait for (about two minutes on AWS).
// Asked once per account and region in a session; a failure is asked again next time.
import { commands, ok, type RegionReady } from './api';
import { toProblem, type Problem } from './errors';

export type RegionPrep =
  { state: 'preparing' } | { state: 'ready'; ready: RegionReady; tookMs: number } | { state: 'failed'; problem: Problem };

/** A preparation that took longer than this created something (a look alone is one round trip). */
export const CREATED_AFTER_MS = 3000;

const preps = $state<Record<string, RegionPrep>>({});

const keyOf = (accountId: string, region: string) => `${accountId}/${region}`;

export function regionPrep(accountId: string, region: string): RegionPrep | null {
  return preps[keyOf(accountId, region)] ?? null;
}

export function prepareRegion(accountId: string, region: string, now: () => number = Date.now): Promise<void> {
  const key = keyOf(accountId, region);
  const current = preps[key];
  if (current && current.state !== 'failed') return Promise.resolve();
  preps[key] = { state: 'preparing' };
  const started = now();
  return ok(commands.prepareRegion(accountId, region))
    .then((ready) => {
      preps[key] = { state: 'ready', ready, tookMs: now() - started };
    })
    .catch((e) => {
      preps[key] = { state: 'failed', problem: toProblem(e) };
    });
}

/** After "Remove easyTDV from this account": its regions are no longer ready. */
export function forgetRegionPreps(accountId: string): void {
  for (const key of Object.keys(preps)) if (key.startsWith(`${accountId}/`)) delete preps[key];
}
