import { describe, expect, it } from 'vitest';
import { AwsForm, validateEndpoint } from './setup.svelte';

const KEY = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

describe('AwsForm', () => {
  it('fills both key fields from a pasted "key,secret" pair', () => {
    const f = new AwsForm();
    f.errors = { accessKeyId: 'x', secretAccessKey: 'y', name: 'z' };
    expect(f.tryPair(`${KEY},${SECRET}`)).toBe(true);
    expect([f.accessKeyId, f.secretAccessKey]).toEqual([KEY, SECRET]);
    expect(f.pasteNote).toMatch(/recognised an access key/);
    expect(f.errors).toEqual({ name: 'z' });
    expect(new AwsForm().tryPair('hello')).toBe(false);
  });

  it('checks the fields of the chosen method, and names the first wrong one', () => {
    const f = new AwsForm();
    expect(f.validate()).toBe('accessKeyId');
    expect(Object.keys(f.errors)).toEqual(['accessKeyId', 'secretAccessKey']);
    f.name = ' ';
    expect(f.validate()).toBe('name');
    f.name = 'Work';
    f.method = 'csv';
    expect(f.validate()).toBeNull();
    f.method = 'profile';
    expect(f.validate()).toBe('profile');
  });

  it('chooses the first profile found and follows the chosen profile’s region', () => {
    const f = new AwsForm();
    f.setProfiles([
      { name: 'lab', region: 'eu-west-3', isSso: false },
      { name: 'sso', region: 'ap-northeast-1', isSso: true },
    ]);
    expect([f.profile, f.region]).toEqual(['lab', 'eu-west-3']);
    f.profile = 'sso';
    f.profileChanged();
    expect([f.region, f.name]).toEqual(['ap-northeast-1', 'AWS profile sso']);
    f.name = 'Mine';
    f.profileChanged();
    expect(f.name).toBe('Mine');
  });

  it('forgets the secrets', () => {
    const f = new AwsForm();
    f.tryPair(`${KEY},${SECRET}`);
    f.sessionToken = 't';
    f.showSecret = true;
    f.clearSecrets();
    expect([f.accessKeyId, f.secretAccessKey, f.sessionToken, f.showSecret]).toEqual(['', '', '', false]);
  });
});

describe('validateEndpoint', () => {
  it('wants an http address with a port', () => {
    expect(validateEndpoint(' http://127.0.0.1:4566 ')).toBeNull();
    expect(validateEndpoint('http://127.0.0.1:4566/')).toBeNull();
    expect(validateEndpoint('127.0.0.1:4566')).toMatch(/^Enter the sandbox address/);
    expect(validateEndpoint('https://127.0.0.1:4566')).toMatch(/^Enter the sandbox address/);
  });
  it('refuses a sandbox on another computer (it would receive your scripts)', () => {
    for (const far of [
      'http://10.0.0.5:4566',
      'http://sandbox.example:4566',
      'http://127.0.0.1.evil.example:80',
      'http://localhost:4566',
    ]) {
      expect(validateEndpoint(far)).toMatch(/this computer only/);
    }
  });
});
