import { describe, expect, it } from 'vitest';
import { href, parseHash } from './router.svelte';

describe('router', () => {
  it('parses hashes', () => {
    expect(parseHash('')).toEqual({ name: 'runs' });
    expect(parseHash('#/')).toEqual({ name: 'runs' });
    expect(parseHash('#/new')).toEqual({ name: 'new' });
    expect(parseHash('#/new/20261126-143000-a1b2c3')).toEqual({ name: 'new', from: '20261126-143000-a1b2c3' });
    expect(parseHash('#/accounts/')).toEqual({ name: 'accounts' });
    expect(parseHash('#/runs/abc%2F1')).toEqual({ name: 'run', id: 'abc/1' });
    expect(parseHash('#/nowhere')).toEqual({ name: 'runs' });
  });
  it('round-trips', () => {
    expect(parseHash(href({ name: 'run', id: 'r 1' }))).toEqual({ name: 'run', id: 'r 1' });
    expect(href({ name: 'new' })).toBe('#/new');
    expect(parseHash(href({ name: 'new', from: 'r 1' }))).toEqual({ name: 'new', from: 'r 1' });
    expect(href({ name: 'compare', ids: ['a', 'b,c'] })).toBe('#/compare/a,b%2Cc');
    expect(parseHash(href({ name: 'compare', ids: ['a', 'b,c'] }))).toEqual({ name: 'compare', ids: ['a', 'b,c'] });
  });
});
