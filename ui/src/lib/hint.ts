// Hints may contain a command to run, written between backticks: show it as code.
export interface HintPart {
  text: string;
  code: boolean;
}

export function splitCode(text: string): HintPart[] {
  const parts: HintPart[] = [];
  const re = /`([^`]+)`/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) parts.push({ text: text.slice(last, m.index), code: false });
    parts.push({ text: m[1] ?? '', code: true });
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push({ text: text.slice(last), code: false });
  return parts;
}
