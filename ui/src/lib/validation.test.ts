import { describe, expect, it } from 'vitest';
import {
  parsePastedKeyPair,
  validateAccessKeyId,
  validateAmiId,
  validateBucketName,
  validateDiskGb,
  validateMaxRuntimeHours,
  validateMachineCount,
  validateSecretAccessKey,
} from './validation';

describe('validateBucketName', () => {
  it.each(['abc', 'my-bucket', 'easytdv-123456789012-eu-west-3', 'a.b.c', '1bucket', 'a'.repeat(63)])('accepts %s', (name) =>
    expect(validateBucketName(name)).toBeNull(),
  );
  it.each([
    ['', /Enter a bucket name/],
    ['ab', /at least 3/],
    ['a'.repeat(64), /at most 63/],
    ['MyBucket', /lowercase/],
    ['my_bucket', /only lowercase letters, digits/],
    ['my bucket', /No spaces/],
    ['-bucket', /Start the name/],
    ['.bucket', /Start the name/],
    ['bucket-', /End the name/],
    ['bucket.', /End the name/],
    ['my..bucket', /Two dots/],
    ['192.168.5.4', /IP address/],
    ['xn--bucket', /cannot start with "xn--"/],
    ['sthree-bucket', /cannot start with "sthree-"/],
    ['bucket-s3alias', /cannot end with "-s3alias"/],
    ['bucket--ol-s3', /cannot end with "--ol-s3"/],
  ])('rejects %j', (name, msg) => {
    expect(validateBucketName(name)).toMatch(msg);
  });
  it('ignores surrounding spaces', () => expect(validateBucketName('  my-bucket ')).toBeNull());
});

describe('validateDiskGb', () => {
  it.each([8, 30, 16384, '100'])('accepts %j', (v) => expect(validateDiskGb(v)).toBeNull());
  it.each([
    [7, /at least 8/],
    [16385, /at most 16384/],
    [30.5, /whole number/],
    ['abc', /as a number/],
    ['', /Enter a disk size/],
    [null, /Enter a disk size/],
  ])('rejects %j', (v, msg) => expect(validateDiskGb(v)).toMatch(msg));
});

describe('validateAmiId', () => {
  it('accepts 8 and 17 hex ids', () => {
    expect(validateAmiId('ami-12345678')).toBeNull();
    expect(validateAmiId('ami-0123456789abcdef0')).toBeNull();
  });
  it('rejects others', () => {
    expect(validateAmiId('')).toMatch(/Enter an image id/);
    expect(validateAmiId('ami-xyz')).toMatch(/looks like ami-/);
    expect(validateAmiId('i-0123456789abcdef0')).toMatch(/looks like ami-/);
  });
});

describe('keys', () => {
  const id = 'AKIAIOSFODNN7EXAMPLE';
  const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
  it('validates access key ids and secrets', () => {
    expect(validateAccessKeyId(id)).toBeNull();
    expect(validateAccessKeyId('hello')).toMatch(/starts with AKIA/);
    expect(validateAccessKeyId('')).toMatch(/Paste/);
    expect(validateSecretAccessKey(secret)).toBeNull();
    expect(validateSecretAccessKey('short')).toMatch(/40-character/);
  });
  it('recognises a pasted key,secret pair', () => {
    expect(parsePastedKeyPair(`${id},${secret}`)).toEqual({ accessKeyId: id, secretAccessKey: secret });
    expect(parsePastedKeyPair(`Access key ID,Secret access key\n${id},${secret}\n`)).toEqual({
      accessKeyId: id,
      secretAccessKey: secret,
    });
    expect(parsePastedKeyPair(`"${id}"\t"${secret}"`)).toEqual({ accessKeyId: id, secretAccessKey: secret });
  });
  it('returns null for a lone key id', () => {
    expect(parsePastedKeyPair(id)).toBeNull();
    expect(parsePastedKeyPair('hello, world')).toBeNull();
  });
});

describe('validateMaxRuntimeHours', () => {
  it('accepts 1 to 48 whole hours', () => {
    expect(validateMaxRuntimeHours(1)).toBeNull();
    expect(validateMaxRuntimeHours('24')).toBeNull();
    expect(validateMaxRuntimeHours(48)).toBeNull();
  });
  it('rejects the rest', () => {
    expect(validateMaxRuntimeHours(0)).toMatch(/At least 1 hour/);
    expect(validateMaxRuntimeHours(49)).toMatch(/At most 48 hours: AWS runs one command for at most 48 hours/);
    expect(validateMaxRuntimeHours(1.5)).toMatch(/whole number/);
    expect(validateMaxRuntimeHours('')).toMatch(/Enter a number/);
  });
});

describe('validateMachineCount', () => {
  it('accepts 1 to 16 whole machines, and says what to enter otherwise', () => {
    expect(validateMachineCount(1)).toBeNull();
    expect(validateMachineCount('16')).toBeNull();
    expect(validateMachineCount('')).toMatch(/Enter a number of machines/);
    expect(validateMachineCount('1.5')).toMatch(/whole number/);
    expect(validateMachineCount('two')).toMatch(/whole number/);
    expect(validateMachineCount(0)).toBe('At least 1 machine.');
    expect(validateMachineCount(17)).toBe('At most 16 machines for one training job.');
  });
});
