// Hints may contain a command to run, written between backticks (shown as code), and web
// addresses (shown as links the user copies: the app's window opens no web pages itself).
export interface HintPart {
  text: string;
  code: boolean;
  /** A web address (https://…). */
  url?: boolean;
}

const URL = /https?:\/\/[^\s<>"'`]+/g;

function splitUrls(text: string): HintPart[] {
  const out: HintPart[] = [];
  let last = 0;
  for (const m of text.matchAll(URL)) {
    // Trailing punctuation ends the sentence, not the address.
    const url = m[0].replace(/[.,;:!?)]+$/, '');
    const at = m.index ?? 0;
    if (at > last) out.push({ text: text.slice(last, at), code: false });
    out.push({ text: url, code: false, url: true });
    last = at + url.length;
  }
  if (last < text.length) out.push({ text: text.slice(last), code: false });
  return out;
}

export function splitCode(text: string): HintPart[] {
  const parts: HintPart[] = [];
  const re = /`([^`]+)`/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) parts.push(...splitUrls(text.slice(last, m.index)));
    parts.push({ text: m[1] ?? '', code: true });
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push(...splitUrls(text.slice(last)));
  return parts;
}
