// WebKitGTK reports the POSIX locale (LANG=C, common on servers and in
// containers) as navigator.language = "C", which is not a BCP 47 tag:
// Intl.NumberFormat throws on it, and uPlot builds one when it loads, so the
// whole UI would fail to start. Imported first by main.ts: an invalid
// language is replaced by en-US before any other module runs.

export function isValidLanguage(lang: string | undefined | null): boolean {
  if (!lang) return false;
  try {
    new Intl.NumberFormat(lang);
    return true;
  } catch {
    return false;
  }
}

export function usableLanguages(languages: readonly string[]): string[] {
  const ok = languages.filter((l) => isValidLanguage(l));
  return ok.length ? ok : ['en-US'];
}

if (typeof navigator !== 'undefined' && !isValidLanguage(navigator.language)) {
  const languages = usableLanguages(navigator.languages ?? []);
  Object.defineProperty(navigator, 'language', { value: languages[0], configurable: true });
  Object.defineProperty(navigator, 'languages', { value: Object.freeze(languages), configurable: true });
}
