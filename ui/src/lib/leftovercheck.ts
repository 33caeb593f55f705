// When to offer the forgotten-resources check (pure): on the first start with an account never checked,
// then once a week; "Not now" waits a week. Kept per account id in localStorage.

export const WEEK_MS = 7 * 24 * 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface CheckMemo {
  /** When the account was last checked (ms since 1970), or null: never. */
  checkedAt: number | null;
  /** "Not now" until then (ms), or null. */
  snoozedUntil: number | null;
}

/** The little part of localStorage this needs (a fake in the tests). */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export const storageKey = (accountId: string) => `easytdv.leftoverCheck.${accountId}`;

export function isCheckDue(memo: CheckMemo, nowMs: number): boolean {
  if (memo.snoozedUntil !== null && nowMs < memo.snoozedUntil) return false;
  return memo.checkedAt === null || nowMs - memo.checkedAt >= WEEK_MS;
}

/** "never", "today", "1 day ago", "9 days ago". */
export function lastCheckedText(checkedAt: number | null, nowMs: number): string {
  if (checkedAt === null) return 'never';
  const days = Math.floor(Math.max(0, nowMs - checkedAt) / DAY_MS);
  if (days === 0) return 'today';
  return days === 1 ? '1 day ago' : `${days} days ago`;
}

export function readMemo(store: KeyValueStore, accountId: string): CheckMemo {
  let raw: string | null;
  try {
    raw = store.getItem(storageKey(accountId));
  } catch {
    raw = null;
  }
  try {
    const v = raw ? (JSON.parse(raw) as Partial<CheckMemo>) : {};
    const num = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : null);
    return { checkedAt: num(v.checkedAt), snoozedUntil: num(v.snoozedUntil) };
  } catch {
    return { checkedAt: null, snoozedUntil: null };
  }
}

function write(store: KeyValueStore, accountId: string, memo: CheckMemo) {
  try {
    store.setItem(storageKey(accountId), JSON.stringify(memo));
  } catch {
    // Storage full or refused: the banner just shows again next time.
  }
}

/** A check finished: not due again for a week (and any "Not now" is forgotten). */
export function recordCheck(store: KeyValueStore, accountId: string, nowMs: number) {
  write(store, accountId, { checkedAt: nowMs, snoozedUntil: null });
}

/** "Not now": not offered again for a week. */
export function snooze(store: KeyValueStore, accountId: string, nowMs: number) {
  write(store, accountId, { ...readMemo(store, accountId), snoozedUntil: nowMs + WEEK_MS });
}

/** The first account the check is due for, with its memo; null when none. */
export function dueAccount(
  store: KeyValueStore,
  accountIds: readonly string[],
  nowMs: number,
): { accountId: string; memo: CheckMemo } | null {
  for (const accountId of accountIds) {
    const memo = readMemo(store, accountId);
    if (isCheckDue(memo, nowMs)) return { accountId, memo };
  }
  return null;
}
