import { describe, expect, it } from 'vitest';
import {
  clockTime,
  formatBytes,
  formatDuration,
  formatMemory,
  formatRegion,
  formatShortDateTime,
  machineText,
  plural,
  regionLabel,
} from './format';

describe('format', () => {
  it('formats regions with human names', () => {
    expect(formatRegion({ code: 'eu-west-3', name: 'Europe (Paris)' })).toBe('Europe (Paris) — eu-west-3');
    expect(formatRegion({ code: 'xx-test-1', name: '' })).toBe('xx-test-1');
    expect(formatRegion(null)).toBe('');
    expect(regionLabel('eu-west-3', [{ code: 'eu-west-3', name: 'Europe (Paris)' }])).toBe('Europe (Paris) — eu-west-3');
    expect(regionLabel('us-east-1', [])).toBe('us-east-1');
  });
  it('formats sizes', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(20 * 1024 * 1024)).toBe('20 MB');
    expect(formatMemory(4096)).toBe('4 GiB');
    expect(formatMemory(512)).toBe('0.5 GiB');
    expect(formatMemory(16384 * 4)).toBe('64 GiB');
  });
  it('formats durations', () => {
    expect(formatDuration(950)).toBe('0.9 s');
    expect(formatDuration(12_400)).toBe('12 s');
    expect(formatDuration(65_000)).toBe('1 min 05 s');
    expect(formatDuration(3_723_000)).toBe('1 h 02 min');
  });
  it('pluralises', () => {
    expect(plural(1, 'package')).toBe('1 package');
    expect(plural(3, 'package')).toBe('3 packages');
  });

  it('shortens dates for the runs table, with the year only when it is not this one', () => {
    const now = new Date(2026, 10, 30, 12, 0);
    const thisYear = formatShortDateTime(new Date(2026, 10, 22, 9, 5), now);
    expect(thisYear).not.toContain('2026');
    expect(thisYear).toMatch(/22/);
    expect(thisYear).toMatch(/05/);
    const lastYear = formatShortDateTime(new Date(2025, 0, 3, 9, 5), now);
    expect(lastYear).toContain('2025');
    expect(lastYear).not.toMatch(/05/);
    expect(formatShortDateTime('not a date', now)).toBe('not a date');
  });

  it('tells the time on a 24-hour clock', () => {
    expect(clockTime(new Date(2026, 0, 1, 9, 5))).toBe('09:05');
    expect(clockTime(new Date(2026, 0, 1, 23, 59))).toBe('23:59');
  });

  it('says what a run ran on', () => {
    expect(machineText({ instanceType: 't3.medium' })).toBe('t3.medium');
    expect(machineText({ instanceType: 't3.medium', engine: { kind: 'ec2' } })).toBe('t3.medium');
    expect(machineText({ instanceType: 'ml.g5.xlarge', engine: { kind: 'sageMaker', instanceCount: 2, spot: true } })).toBe(
      '2 × ml.g5.xlarge (SageMaker, spot)',
    );
    expect(machineText({ instanceType: 'ml.m5.xlarge', engine: { kind: 'sageMaker', instanceCount: 1, spot: false } })).toBe(
      'ml.m5.xlarge (SageMaker)',
    );
    expect(machineText(null)).toBeNull();
  });
});
