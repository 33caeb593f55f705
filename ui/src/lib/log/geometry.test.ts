import { describe, expect, it } from 'vitest';
import {
  contentHeight,
  formatClock,
  MAX_SCROLL_PX,
  scaled,
  scrollEnd,
  scrollTopFor,
  splitMatches,
  topLineAt,
  visibleRows,
} from './geometry';

describe('virtual scrolling', () => {
  it('is one row per rowHeight pixels for a log that fits the browser', () => {
    const g = { total: 10_000, rowHeight: 20, viewHeight: 400 };
    expect(contentHeight(g)).toBe(200_000);
    expect(topLineAt(2000, g)).toBeCloseTo(100);
    expect(scrollTopFor(100, g)).toBeCloseTo(2000);
    expect(visibleRows(2010, g)).toEqual({ first: 100, last: 121, shift: expect.closeTo(10) });
  });

  it('a million lines scroll in pixels; beyond what a browser scrolls, the bar maps to the whole log', () => {
    const million = { total: 1_000_000, rowHeight: 20, viewHeight: 400 };
    expect(scaled(million)).toBe(false);
    expect(topLineAt(scrollTopFor(500_000, million), million)).toBeCloseTo(500_000, 3);
    const g = { total: 5_000_000, rowHeight: 20, viewHeight: 400 };
    expect(scaled(g)).toBe(true);
    expect(contentHeight(g)).toBe(MAX_SCROLL_PX);
    const end = scrollEnd(g);
    // At the end, the last line is the last one shown.
    const v = visibleRows(end, g);
    expect(v.last).toBe(5_000_000);
    expect(topLineAt(end, g)).toBeCloseTo(5_000_000 - 20);
    // The middle of the bar is the middle of the log, and back again.
    const mid = scrollTopFor(2_500_000, g);
    expect(topLineAt(mid, g)).toBeCloseTo(2_500_000, 3);
  });

  it('nothing to scroll when everything fits', () => {
    const g = { total: 5, rowHeight: 20, viewHeight: 400 };
    expect(scrollEnd(g)).toBe(0);
    expect(visibleRows(0, g)).toEqual({ first: 0, last: 5, shift: 0 });
  });
});

describe('log line helpers', () => {
  it('local clock time', () => {
    const at = new Date(2026, 10, 26, 9, 5, 7).getTime();
    expect(formatClock(at)).toBe('09:05:07');
    expect(formatClock(null)).toBe('');
  });
  it('splits around matches, ignoring case', () => {
    expect(splitMatches('Loss 0.2 loss', 'LOSS')).toEqual([
      { text: 'Loss', match: true },
      { text: ' 0.2 ', match: false },
      { text: 'loss', match: true },
    ]);
    expect(splitMatches('abc', '')).toEqual([{ text: 'abc', match: false }]);
  });
});
