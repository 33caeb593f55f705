import { describe, expect, it } from 'vitest';
import { environmentText, machineFacts, phaseLabel, phaseSeconds, shutdownSentence } from './report';

describe('what the machine reported', () => {
  it('the shutdown notice in local time', () => {
    const at = new Date(2026, 11, 2, 11, 0, 0);
    const notice = `machine will shut down at ${at.toISOString()} unless you retry`;
    expect(shutdownSentence(notice, new Date(2026, 11, 2, 10, 0))).toBe(
      'This machine shuts itself down at 11:00 unless you retry; it costs money until then.',
    );
    expect(shutdownSentence(notice, new Date(2026, 11, 1, 10, 0))).toMatch(
      /^This machine shuts itself down at 11:00 on .+ unless you retry;/,
    );
    expect(shutdownSentence('machine will shut down soon')).toBe('Machine will shut down soon');
    expect(shutdownSentence(null)).toBeNull();
  });
  it('phases and facts in plain words', () => {
    expect(phaseLabel('install')).toBe('Install your packages');
    expect(phaseLabel('cache')).toBe('Find and restore a saved environment');
    expect(phaseLabel('cache-save')).toBe('Save the environment for next time (alongside train.py)');
    expect(phaseLabel('download', 'install')).toBe('Fetch your files');
    expect(phaseLabel('download', 'train')).toBe('Fetch train.py for the training');
    expect(phaseLabel('warm_up')).toBe('Warm up');
    expect(phaseSeconds(0.412)).toBe('0.4 s');
    expect(phaseSeconds(185)).toBe('3 min 05 s');
    expect(environmentText('first install of these requirements')).toBe('First install of these requirements');
    expect(machineFacts({ python: '3.12.8', environment: 'no extra packages to install' }, 'eu-west-3b').map((f) => f.label)).toEqual([
      'Python',
      'Packages',
      'Zone',
    ]);
    expect(machineFacts(null, null)).toEqual([]);
  });
});
