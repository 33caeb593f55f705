// Python tracebacks in a log: which lines belong to one (the log panel highlights them), and the
// line of train.py that failed (the failure card names it). Pure.

export interface TextLine {
  text: string;
  stream?: 'out' | 'err';
}

/** A line's part in a traceback: its first line, a frame or code line, or the exception line that ends it. */
export type TracebackMark = 'head' | 'frame' | 'end' | null;

const HEAD = 'Traceback (most recent call last):';
/** An exception line: `ValueError: …`, `ModuleNotFoundError: …`, `KeyboardInterrupt`, `torch.cuda.OutOfMemoryError: …`. */
const EXCEPTION = /^([A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit|Warning|Iteration)|[A-Za-z_][\w.]*\.[A-Z]\w*)(:.*)?$/;

/**
 * Marks the lines of every traceback, from "Traceback (most recent call last):" to the exception
 * line. Lines of the other stream (stdout printed while stderr had a traceback) are left alone.
 * `lines` may start before what is shown (a look-back), so a traceback that began above is still seen.
 */
export function tracebackMarks(lines: readonly (TextLine | undefined)[]): TracebackMark[] {
  const out: TracebackMark[] = [];
  let inside: { stream: TextLine['stream'] } | null = null;
  for (const l of lines) {
    if (!l) {
      out.push(null);
      inside = null; // unknown line (not loaded): do not guess across it
      continue;
    }
    const text = l.text.replace(/\s+$/, '');
    if (text.trimStart() === HEAD || text.trimStart().endsWith(HEAD)) {
      out.push('head');
      inside = { stream: l.stream };
      continue;
    }
    if (!inside || (inside.stream && l.stream && l.stream !== inside.stream)) {
      out.push(null);
      continue;
    }
    if (/^\s/.test(text) || text === '') {
      out.push('frame');
      continue;
    }
    out.push('end');
    inside = null;
  }
  return out;
}

export interface FailingLine {
  /** The file's name, e.g. "train.py". */
  file: string;
  line: number;
  /** The exception line, e.g. "ModuleNotFoundError: No module named 'six'". */
  error: string;
}

const FRAME = /^\s*File "([^"]+)", line (\d+)/;

/**
 * The line of the user's script where the last traceback in `text` points, with its error:
 * the deepest frame in `script` (a library's own frames are not what the user can fix), or the
 * deepest frame when train.py has none. Also a SyntaxError, which Python prints without a
 * "Traceback" line. Null when the text holds no traceback.
 */
export function failingLine(text: string, script = 'train.py'): FailingLine | null {
  const lines = text.split(/\r?\n/);
  // The last exception line that follows a frame.
  for (let end = lines.length - 1; end >= 0; end--) {
    const errorText = (lines[end] ?? '').trim();
    if (!EXCEPTION.test(errorText) || /^\s/.test(lines[end] ?? '')) continue;
    let best: { file: string; line: number } | null = null;
    let deepest: { file: string; line: number } | null = null;
    let sawFrame = false;
    for (let i = end - 1; i >= 0; i--) {
      const t = lines[i] ?? '';
      if (t.trim() === HEAD) break;
      const m = FRAME.exec(t);
      if (m) {
        sawFrame = true;
        const frame = { file: basename(m[1] ?? ''), line: Number(m[2]) };
        deepest ??= frame;
        if (!best && frame.file === script) best = frame;
        continue;
      }
      // Frames and code are indented; anything else ends the traceback above.
      if (!/^\s/.test(t) && t.trim() !== '') break;
    }
    if (!sawFrame) continue;
    const at = best ?? deepest;
    if (at) return { ...at, error: errorText };
  }
  return null;
}

/** "train.py line 7: ModuleNotFoundError: No module named 'six'" */
export function describeFailingLine(f: FailingLine): string {
  return `${f.file} line ${f.line}: ${f.error}`;
}

function basename(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}
