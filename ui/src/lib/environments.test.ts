import { describe, expect, it } from 'vitest';
import { archLabel, packageNames, packagesShort, pythonLabel, sizeMb, monthlyText, totalMonthly } from './environments';

const env = (usdPerMonth: number | null) => ({
  key: 'k',
  requirements: '',
  python: '',
  arch: '',
  created: '',
  sizeBytes: null,
  usdPerMonth,
});

describe('environments', () => {
  it('lists the package names of normalised requirements', () => {
    expect(packageNames('numpy==1.26.4\n# a comment\n\n--extra-index-url https://x\npandas[parquet]>=2  # pinned\ntorch')).toEqual([
      'numpy',
      'pandas[parquet]',
      'torch',
    ]);
    expect(packagesShort('numpy\npandas')).toBe('numpy and pandas');
    expect(packagesShort('numpy')).toBe('numpy');
    expect(packagesShort('a\nb\nc\nd\ne\nf')).toBe('a, b, c, d and 2 more');
    expect(packagesShort('a\nb\nc')).toBe('a, b and c');
    expect(packagesShort('')).toBe('no packages');
  });

  it('names Python and the architecture', () => {
    expect(pythonLabel('3.11.9')).toBe('Python 3.11.9');
    expect(pythonLabel('Python 3.10.12')).toBe('Python 3.10.12');
    expect(pythonLabel('')).toBe('Python unknown');
    expect(archLabel('x86_64')).toBe('x86 (Intel/AMD)');
    expect(archLabel('aarch64')).toBe('Arm (Graviton)');
    expect(archLabel('riscv')).toBe('riscv');
    expect(archLabel('')).toBe('unknown');
  });

  it('says the size in MB and the cost a month', () => {
    expect(sizeMb(912_345_678)).toBe('870 MB');
    expect(sizeMb(400_000)).toBe('0.4 MB');
    expect(sizeMb(5_000_000_000)).toBe('4,768 MB');
    expect(sizeMb(null)).toBe('—');
    expect(monthlyText(0.0204)).toBe('$0.0204/month');
    expect(monthlyText(null)).toBe('—');
    expect(monthlyText(0.00000948)).toBe('under $0.01/month');
    expect(monthlyText(0)).toBe('$0.00/month');
    expect(totalMonthly([env(0.02), env(0.04), env(null)])).toBe('$0.06/month');
    expect(totalMonthly([env(null)])).toBeNull();
  });
});
