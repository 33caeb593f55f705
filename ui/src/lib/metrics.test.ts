import { describe, expect, it } from 'vitest';
import { addPoints, finalMetricsText, formatValue, fromSeries, orderedNames, overlay } from './metrics';

describe('metric curves', () => {
  it('start from runMetrics and take live points, by step, in order', () => {
    const c = fromSeries([{ name: 'loss', byStep: true, x: [1, 2, null], y: [0.9, 0.7, 0.1] }]);
    expect(addPoints(c, [{ name: 'loss', value: 0.5, step: 3, atMs: 1 }], null)).toEqual(['loss']);
    // A point seen again (the answer of runMetrics and the live event overlap) replaces, never doubles.
    addPoints(c, [{ name: 'loss', value: 0.71, step: 2, atMs: 1 }], null);
    addPoints(c, [{ name: 'acc', value: 0.8, step: 1, atMs: 1 }], null);
    expect(c.get('loss')).toEqual({ name: 'loss', byStep: true, x: [1, 2, 3], y: [0.9, 0.71, 0.5] });
    expect(c.get('acc')?.x).toEqual([1]);
  });

  it('without a step, x is seconds since the script started', () => {
    const c = fromSeries([]);
    addPoints(c, [{ name: 'loss', value: 1, step: null, atMs: 12_500 }], 10_000);
    expect(c.get('loss')).toEqual({ name: 'loss', byStep: false, x: [2.5], y: [1] });
    expect(addPoints(c, [{ name: 'loss', value: 1, step: null, atMs: null }], 10_000)).toEqual([]);
  });

  it('overlays runs on one x axis, a gap where a run has no value', () => {
    const o = overlay([
      [{ name: 'loss', byStep: true, x: [1, 2, 3], y: [1, 0.5, 0.25] }],
      [
        { name: 'loss', byStep: true, x: [2, 4], y: [0.8, 0.4] },
        { name: 'acc', byStep: true, x: [1], y: [0.5] },
      ],
    ]);
    expect(o.map((x) => x.name)).toEqual(['loss', 'acc']);
    expect(o[0]).toEqual({
      name: 'loss',
      byStep: true,
      x: [1, 2, 3, 4],
      ys: [
        [1, 0.5, 0.25, null],
        [null, 0.8, null, 0.4],
      ],
    });
    expect(o[1]?.ys).toEqual([null, [0.5]]);
  });
});

describe('metric words', () => {
  it('orders loss first, then accuracy-like metrics', () => {
    expect(orderedNames(['lr', 'val_acc', 'loss', 'epoch_time', 'val_loss'])).toEqual(['loss', 'val_loss', 'val_acc', 'epoch_time', 'lr']);
  });
  it('formats values compactly', () => {
    expect(formatValue(0.123456)).toBe('0.1235');
    expect(formatValue(12345.6)).toBe('12346');
    expect(formatValue(0.0000123)).toBe('1.23e-5');
    expect(formatValue(null)).toBe('—');
  });
  it('the history list shows a few final values', () => {
    expect(finalMetricsText({ acc: 0.93, loss: 0.2, lr: 0.001, f1: 0.9 })).toBe('loss 0.2 · acc 0.93 · f1 0.9 · +1 more');
    expect(finalMetricsText({})).toBe('');
    expect(finalMetricsText(undefined)).toBe('');
  });
});
