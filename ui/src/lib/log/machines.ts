// The machines of a SageMaker training log: every machine's lines are in one log, those of machines
// other than the first prefixed "[algo-N] " (the first machine's, algo-1, have no prefix). The log
// panel can show one machine's lines: MachineIndex keeps, for each machine, the line numbers of its
// lines (4 bytes a line, not the text), filled by reading the log once from the start and then by
// the lines arriving live. Pure: no IPC, no DOM.

const PREFIX = /^\[algo-(\d{1,4})\] /;

/** The machine (1, 2, …) that printed a line of the training log. */
export function machineOf(text: string): number {
  // Most lines have no prefix: a cheap test first.
  if (text.charCodeAt(0) !== 91 /* [ */) return 1;
  const m = PREFIX.exec(text);
  return m ? Math.max(1, Number(m[1])) : 1;
}

/** The line as its machine printed it, without the "[algo-N] " prefix. */
export function withoutMachine(text: string): string {
  if (text.charCodeAt(0) !== 91) return text;
  const m = PREFIX.exec(text);
  return m ? text.slice(m[0].length) : text;
}

/** The highest machine number among lines (1 when none has a prefix). */
export function highestMachine(lines: readonly ({ text: string } | undefined)[]): number {
  let max = 1;
  for (const l of lines) if (l && l.text.charCodeAt(0) === 91) max = Math.max(max, machineOf(l.text));
  return max;
}

/** A growing list of line numbers, in order. */
class Positions {
  private data = new Uint32Array(1024);
  length = 0;

  push(n: number): void {
    if (this.length === this.data.length) {
      const next = new Uint32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = n;
  }

  at(k: number): number | undefined {
    return k >= 0 && k < this.length ? this.data[k] : undefined;
  }

  /** Where line `n` is in the list, or, when it is absent, -(where it would go) - 1. */
  find(n: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.data[mid] as number;
      if (v === n) return mid;
      if (v < n) lo = mid + 1;
      else hi = mid;
    }
    return -lo - 1;
  }
}

export class MachineIndex {
  /** Lines indexed, from line 0 (the next line to index). */
  scanned = 0;
  private lists = new Map<number, Positions>();

  /** Lines of the log from line `from`; only lines that follow what is indexed are taken. Returns whether they were. */
  add(from: number, lines: readonly { text: string }[]): boolean {
    if (from > this.scanned) return false;
    for (let k = this.scanned - from; k < lines.length; k++) {
      const line = lines[k];
      if (!line) continue;
      const m = machineOf(line.text);
      let list = this.lists.get(m);
      if (!list) this.lists.set(m, (list = new Positions()));
      list.push(from + k);
    }
    this.scanned = Math.max(this.scanned, from + lines.length);
    return true;
  }

  /** The machines seen, in order. */
  get machines(): number[] {
    return [...this.lists.keys()].sort((a, b) => a - b);
  }

  /** How many lines of machine `m` are indexed. */
  count(m: number): number {
    return this.lists.get(m)?.length ?? 0;
  }

  /** The log line number of the `k`-th line of machine `m`. */
  line(m: number, k: number): number | undefined {
    return this.lists.get(m)?.at(k);
  }

  /** The position of log line `n` among machine `m`'s lines; null when it is not one of them. */
  position(m: number, n: number): number | null {
    const at = this.lists.get(m)?.find(n) ?? -1;
    return at >= 0 ? at : null;
  }

  /** The position of the first line of machine `m` at or after log line `n` (its count when none). */
  positionFrom(m: number, n: number): number {
    const at = this.lists.get(m)?.find(n) ?? -1;
    return at >= 0 ? at : -at - 1;
  }

  /** The log starts again (a retry). */
  reset(): void {
    this.scanned = 0;
    this.lists.clear();
  }
}
