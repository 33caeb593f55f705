import { describe, expect, it } from 'vitest';
import { LogCache, type CachedLine } from './cache';

const line = (i: number): CachedLine => ({ atMs: i, stream: 'out', text: `line ${i}` });
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => line(from + k));

describe('LogCache', () => {
  it('says which chunks the rows on screen need, and holds what readLog returned', () => {
    const c = new LogCache(20_000, 1000);
    c.total = 1_000_000;
    expect(c.missing(499_990, 500_020)).toEqual([499_000, 500_000]);
    c.put(499_000, range(499_000, 500_000), 1_000_000);
    c.put(500_000, range(500_000, 501_000), 1_000_000);
    expect(c.missing(499_990, 500_020)).toEqual([]);
    expect(c.get(500_001)?.text).toBe('line 500001');
    expect(c.get(10)).toBeUndefined();
  });

  it('keeps at most maxLines, dropping the least recently used chunks but never those on screen', () => {
    const c = new LogCache(3000, 1000);
    c.total = 10_000;
    for (const from of [0, 1000, 2000]) c.put(from, range(from, from + 1000), 10_000);
    c.touch(0, 10); // chunk 0 on screen again
    c.put(5000, range(5000, 6000), 10_000, 5000, 5020);
    expect(c.size).toBe(3000);
    expect(c.held.sort((a, b) => a - b)).toEqual([0, 2000, 5000]);
    // A million lines read chunk by chunk never hold more than the bound.
    const big = new LogCache(20_000, 1000);
    big.total = 1_000_000;
    for (let from = 0; from < 1_000_000; from += 1000) big.put(from, range(from, from + 1000), 1_000_000);
    expect(big.size).toBeLessThanOrEqual(20_000);
  });

  it('appends live lines to the tail chunk and starts new chunks at their first line', () => {
    const c = new LogCache(20_000, 1000);
    c.put(0, range(0, 990), 990);
    expect(c.missing(980, 990)).toEqual([]);
    c.applyLive(1020, range(990, 1020));
    expect(c.total).toBe(1020);
    expect(c.get(995)?.text).toBe('line 995');
    expect(c.get(1019)?.text).toBe('line 1019');
    expect(c.missing(0, 1020)).toEqual([]);
  });

  it('a gap (more lines than an event carries) leaves the chunk incomplete, to be read again', () => {
    const c = new LogCache(20_000, 1000);
    c.put(0, range(0, 100), 100);
    c.applyLive(2000, range(1500, 2000)); // lines 100..1500 never came
    expect(c.get(1600)).toBeUndefined();
    expect(c.missing(0, 2000)).toEqual([0, 1000]);
  });

  it('reset empties it (the log starts again)', () => {
    const c = new LogCache();
    c.put(0, range(0, 10), 10);
    c.reset();
    expect(c.total).toBe(0);
    expect(c.size).toBe(0);
  });
});
