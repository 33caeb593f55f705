import { describe, expect, it } from 'vitest';
import { parsePackage, summarizePackages } from './requirements';

describe('requirements display', () => {
  it('splits name and version', () => {
    expect(parsePackage('numpy==1.26.4')).toMatchObject({ name: 'numpy', version: '==1.26.4' });
    expect(parsePackage('scikit-learn')).toMatchObject({ name: 'scikit-learn', version: '' });
    expect(parsePackage('pandas[parquet] ~= 2.2')).toMatchObject({ name: 'pandas[parquet]', version: '~= 2.2' });
    expect(parsePackage('torch>=2; python_version > "3.8"')).toMatchObject({ name: 'torch', version: '>=2' });
  });
  it('summarises', () => {
    expect(summarizePackages([]).sentence).toMatch(/No packages/);
    expect(summarizePackages(['numpy']).sentence).toBe('numpy');
    expect(summarizePackages(['numpy', 'pandas']).sentence).toBe('numpy and pandas');
    const s = summarizePackages(['a', 'b', 'c', 'd', 'e'], 2);
    expect(s.sentence).toBe('a, b, c and 2 more');
    expect(s.shown.map((p) => p.name)).toEqual(['a', 'b']);
    expect(s.hiddenCount).toBe(3);
    expect(s.total).toBe(5);
  });
});
