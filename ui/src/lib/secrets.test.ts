import { describe, expect, it } from 'vitest';
import { keepKnown, MAX_SECRET_CHARS, validateSecretName, validateSecretValue } from './secrets';

describe('validateSecretName', () => {
  it.each(['HF_TOKEN', 'WANDB_API_KEY', '_x', 'a1', ' token '])('accepts %s', (name) => expect(validateSecretName(name)).toBeNull());
  it.each([
    ['', /HF_TOKEN/],
    ['1TOKEN', /not a digit/],
    ['MY-TOKEN', /only letters/],
    ['my token', /only letters/],
    ['ÉTÉ', /only letters/],
    ['A'.repeat(129), /128/],
    ['PATH', /set by the machine/],
    ['path', /set by the machine/],
    ['AWS_SECRET_ACCESS_KEY', /starting with AWS_/],
    ['EASYTDV_X', /starting with EASYTDV_/],
    ['LD_PRELOAD', /starting with LD_/],
  ])('refuses %s', (name, why) => expect(validateSecretName(name)).toMatch(why));
});

describe('validateSecretValue', () => {
  it('takes a token', () => expect(validateSecretValue('hf_abc')).toBeNull());
  it('refuses an empty one', () => expect(validateSecretValue('  \n')).toMatch(/Paste/));
  it('counts characters, as AWS does', () => {
    expect(validateSecretValue('é'.repeat(MAX_SECRET_CHARS))).toBeNull();
    expect(validateSecretValue('x'.repeat(MAX_SECRET_CHARS + 1))).toMatch(/4097 characters/);
  });
});

describe('keepKnown', () => {
  it('drops names the account does not have', () => {
    expect(keepKnown(['A', 'B'], ['B', 'C'])).toEqual(['B']);
    expect(keepKnown(['A'], null)).toEqual(['A']);
  });
});
