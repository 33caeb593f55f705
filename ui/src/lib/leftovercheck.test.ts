import { describe, expect, it } from 'vitest';
import {
  dueAccount,
  isCheckDue,
  lastCheckedText,
  readMemo,
  recordCheck,
  snooze,
  storageKey,
  WEEK_MS,
  type KeyValueStore,
} from './leftovercheck';

function fakeStore(init: Record<string, string> = {}): KeyValueStore & { data: Record<string, string> } {
  const data = { ...init };
  return { data, getItem: (k) => data[k] ?? null, setItem: (k, v) => void (data[k] = v) };
}

const NOW = Date.UTC(2026, 11, 2, 12, 0, 0);
const DAY = 24 * 3600 * 1000;

describe('leftover check: is it due', () => {
  it('is due when never checked, then once a week', () => {
    expect(isCheckDue({ checkedAt: null, snoozedUntil: null }, NOW)).toBe(true);
    expect(isCheckDue({ checkedAt: NOW - 6 * DAY, snoozedUntil: null }, NOW)).toBe(false);
    expect(isCheckDue({ checkedAt: NOW - WEEK_MS + 1, snoozedUntil: null }, NOW)).toBe(false);
    expect(isCheckDue({ checkedAt: NOW - WEEK_MS, snoozedUntil: null }, NOW)).toBe(true);
    expect(isCheckDue({ checkedAt: NOW - 30 * DAY, snoozedUntil: null }, NOW)).toBe(true);
  });

  it('"Not now" waits a week, even for an account never checked', () => {
    expect(isCheckDue({ checkedAt: null, snoozedUntil: NOW + 1 }, NOW)).toBe(false);
    expect(isCheckDue({ checkedAt: null, snoozedUntil: NOW }, NOW)).toBe(true);
    expect(isCheckDue({ checkedAt: NOW - 30 * DAY, snoozedUntil: NOW + DAY }, NOW)).toBe(false);
  });

  it('says when it was last checked', () => {
    expect(lastCheckedText(null, NOW)).toBe('never');
    expect(lastCheckedText(NOW - 3600_000, NOW)).toBe('today');
    expect(lastCheckedText(NOW - DAY, NOW)).toBe('1 day ago');
    expect(lastCheckedText(NOW - 9 * DAY - 5, NOW)).toBe('9 days ago');
    expect(lastCheckedText(NOW + DAY, NOW)).toBe('today');
  });

  it('keeps the times per account id, and survives bad storage', () => {
    const store = fakeStore({ [storageKey('acc-bad')]: '{not json', [storageKey('acc-odd')]: '{"checkedAt":"yesterday"}' });
    expect(readMemo(store, 'acc-bad')).toEqual({ checkedAt: null, snoozedUntil: null });
    expect(readMemo(store, 'acc-odd')).toEqual({ checkedAt: null, snoozedUntil: null });
    expect(dueAccount(store, ['acc-1', 'acc-2'], NOW)?.accountId).toBe('acc-1');

    recordCheck(store, 'acc-1', NOW);
    expect(readMemo(store, 'acc-1')).toEqual({ checkedAt: NOW, snoozedUntil: null });
    expect(dueAccount(store, ['acc-1', 'acc-2'], NOW)?.accountId).toBe('acc-2');

    snooze(store, 'acc-2', NOW);
    expect(dueAccount(store, ['acc-1', 'acc-2'], NOW)).toBeNull();
    expect(dueAccount(store, ['acc-1', 'acc-2'], NOW + WEEK_MS)?.accountId).toBe('acc-1');
    expect(dueAccount(store, ['acc-1', 'acc-2'], NOW + WEEK_MS)?.memo.checkedAt).toBe(NOW);
    // A check made later forgets the snooze.
    recordCheck(store, 'acc-2', NOW + DAY);
    expect(readMemo(store, 'acc-2')).toEqual({ checkedAt: NOW + DAY, snoozedUntil: null });

    const broken: KeyValueStore = {
      getItem: () => {
        throw new Error('denied');
      },
      setItem: () => {
        throw new Error('full');
      },
    };
    expect(dueAccount(broken, ['acc-1'], NOW)?.accountId).toBe('acc-1');
    expect(() => recordCheck(broken, 'acc-1', NOW)).not.toThrow();
  });
});
