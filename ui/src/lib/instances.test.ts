import { describe, expect, it } from 'vitest';
import { defaultInstanceType, defaultTrainingType, groupInstances, olderCount, recommendedTypes } from './instances';

const t = (name: string, category: string, vcpus: number, memoryMib: number, gpuCount = 0, gpuModel: string | null = null) => ({
  name,
  category,
  vcpus,
  memoryMib,
  gpuCount,
  gpuModel,
});
const list = [
  t('g4dn.xlarge', 'gpu', 4, 16384, 1, 'NVIDIA T4'),
  t('m5.large', 'general', 2, 8192),
  t('t3.medium', 'general', 2, 4096),
  t('c5.xlarge', 'compute', 4, 8192),
  t('weird.1', 'quantum', 1, 1024),
];

describe('instances', () => {
  it('groups in a fixed order, sorted by size', () => {
    const g = groupInstances(list);
    expect(g.map((x) => x.title)).toEqual(['General purpose', 'Compute optimised', 'GPU', 'Other']);
    expect(g[0]?.items.map((i) => i.name)).toEqual(['t3.medium', 'm5.large']);
  });
  it('searches by name, GPU model and category', () => {
    expect(groupInstances(list, 't4').flatMap((g) => g.items.map((i) => i.name))).toEqual(['g4dn.xlarge']);
    expect(groupInstances(list, 'gpu').flatMap((g) => g.items.map((i) => i.name))).toEqual(['g4dn.xlarge']);
    expect(groupInstances(list, 'm5').flatMap((g) => g.items.map((i) => i.name))).toEqual(['m5.large']);
    expect(groupInstances(list, 'nothing')).toEqual([]);
  });
  it('defaults to t3.medium when offered', () => {
    expect(defaultInstanceType(list)).toBe('t3.medium');
    expect(defaultInstanceType(list.filter((i) => i.name !== 't3.medium'))).toBe('m5.large');
    expect(defaultInstanceType([])).toBe('');
  });

  it('puts the recommended types first and hides older generations on request', () => {
    const items = [
      { ...t('m3.large', 'general', 2, 7680), previousGeneration: true },
      { ...t('t3.medium', 'general', 2, 4096), recommended: 'Good for a first try' },
      { ...t('g4dn.xlarge', 'gpu', 4, 16384, 1, 'NVIDIA T4'), recommended: 'Good for deep learning' },
      t('m5.large', 'general', 2, 8192),
    ];
    expect(recommendedTypes(items).map((i) => i.name)).toEqual(['t3.medium', 'g4dn.xlarge']);
    expect(olderCount(items)).toBe(1);
    const names = (older: boolean) => groupInstances(items, '', older).flatMap((g) => g.items.map((i) => i.name));
    expect(names(false)).not.toContain('m3.large');
    expect(names(true)).toContain('m3.large');
  });

  it('defaults a training list to its first recommended type', () => {
    const items = [
      t('ml.m5.large', 'general', 2, 8192),
      { ...t('ml.m5.xlarge', 'general', 4, 16384), recommended: 'Good for a first managed run' },
      { ...t('ml.g5.xlarge', 'gpu', 4, 16384, 1, 'NVIDIA A10G'), recommended: 'Good for deep learning' },
    ];
    expect(defaultTrainingType(items)).toBe('ml.m5.xlarge');
    expect(defaultTrainingType(items.map((i) => ({ ...i, recommended: null })))).toBe('ml.m5.large');
  });
});
