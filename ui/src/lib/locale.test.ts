import { describe, expect, it } from 'vitest';
import { isValidLanguage, usableLanguages } from './locale';

describe('locale', () => {
  it('refuses the POSIX locale that WebKitGTK reports under LANG=C', () => {
    expect(isValidLanguage('C')).toBe(false);
    expect(isValidLanguage('')).toBe(false);
    expect(isValidLanguage(undefined)).toBe(false);
    expect(isValidLanguage('fr-FR')).toBe(true);
    expect(isValidLanguage('en')).toBe(true);
  });

  it('keeps the valid languages, else falls back to en-US', () => {
    expect(usableLanguages(['C', 'de-DE'])).toEqual(['de-DE']);
    expect(usableLanguages(['C'])).toEqual(['en-US']);
    expect(usableLanguages([])).toEqual(['en-US']);
  });
});
