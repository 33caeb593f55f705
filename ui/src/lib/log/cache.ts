// A bounded window of a long log: lines kept in chunks of CHUNK lines, at most `maxLines` in all
// (the least recently used chunks are dropped first, never those on screen). The log panel asks
// which chunks the rows on screen need (`missing`), reads them with readLog (`put`), and adds the
// lines that arrive live (`applyLive`). Pure: no IPC, no DOM.

export interface CachedLine {
  atMs: number | null;
  stream: 'out' | 'err';
  text: string;
}

export const CHUNK = 1000;
export const MAX_LINES = 20_000;

export class LogCache<L extends CachedLine = CachedLine> {
  /** Lines in the whole log (from readLog or the live events). */
  total = 0;
  /** chunk index → its lines, contiguous from the chunk's first line (the last chunk may be partial). Map order = least recently used first. */
  private chunks = new Map<number, L[]>();

  constructor(
    readonly maxLines = MAX_LINES,
    readonly chunk = CHUNK,
  ) {}

  /** Lines held in memory now. */
  get size(): number {
    let n = 0;
    for (const c of this.chunks.values()) n += c.length;
    return n;
  }

  /** Chunks held (their first line), for tests. */
  get held(): number[] {
    return [...this.chunks.keys()].map((c) => c * this.chunk);
  }

  get(i: number): L | undefined {
    return this.chunks.get(Math.floor(i / this.chunk))?.[i % this.chunk];
  }

  /** Marks the chunks of lines [from, to) as just used (they are on screen). */
  touch(from: number, to: number): void {
    for (let c = Math.floor(Math.max(0, from) / this.chunk); c * this.chunk < to; c++) {
      const lines = this.chunks.get(c);
      if (lines) {
        this.chunks.delete(c);
        this.chunks.set(c, lines);
      }
    }
  }

  private complete(c: number): boolean {
    const lines = this.chunks.get(c);
    if (!lines) return false;
    return lines.length >= this.chunk || c * this.chunk + lines.length >= this.total;
  }

  /** The first line of every chunk that lines [from, to) need and that is absent or incomplete. */
  missing(from: number, to: number): number[] {
    const out: number[] = [];
    const end = Math.min(to, this.total);
    for (let c = Math.floor(Math.max(0, from) / this.chunk); c * this.chunk < end; c++) if (!this.complete(c)) out.push(c * this.chunk);
    return out;
  }

  /** Lines read with readLog from `from` (a chunk's first line); `total` as readLog said. Lines [keepFrom, keepTo) stay. */
  put(from: number, lines: readonly L[], total: number, keepFrom = from, keepTo = from + lines.length): void {
    this.total = Math.max(this.total, total);
    for (let off = 0; off < lines.length;) {
      const at = from + off;
      const c = Math.floor(at / this.chunk);
      const inChunk = at - c * this.chunk;
      const n = Math.min(lines.length - off, this.chunk - inChunk);
      this.write(c, inChunk, lines.slice(off, off + n));
      off += n;
    }
    this.evict(keepFrom, keepTo);
  }

  /**
   * New lines as a live event brings them: the newest `lines` of a log of `total` lines. Lines that
   * do not follow what a chunk holds (a gap: more lines came than an event carries) are left out, and
   * the chunk then counts as incomplete, so it is read again when it is on screen.
   */
  applyLive(total: number, lines: readonly L[], keepFrom = total - lines.length, keepTo = total): void {
    this.total = Math.max(this.total, total);
    const start = total - lines.length;
    for (let off = 0; off < lines.length;) {
      const at = start + off;
      const c = Math.floor(at / this.chunk);
      const inChunk = at - c * this.chunk;
      const n = Math.min(lines.length - off, this.chunk - inChunk);
      this.write(c, inChunk, lines.slice(off, off + n));
      off += n;
    }
    this.evict(keepFrom, keepTo);
  }

  /** The log starts again (a retry): empty. */
  reset(): void {
    this.chunks.clear();
    this.total = 0;
  }

  private write(c: number, inChunk: number, lines: L[]): void {
    let held = this.chunks.get(c);
    if (!held) {
      // A chunk is only started from its first line (lines that begin mid-chunk are left to readLog).
      if (inChunk !== 0) return;
      held = [];
    }
    if (inChunk > held.length) return; // a gap: read again later
    const next = held.slice(0, inChunk).concat(lines, held.slice(inChunk + lines.length));
    this.chunks.delete(c);
    this.chunks.set(c, next);
  }

  private evict(keepFrom: number, keepTo: number): void {
    const firstKept = Math.floor(Math.max(0, keepFrom) / this.chunk);
    const lastKept = Math.floor(Math.max(0, keepTo - 1) / this.chunk);
    let size = this.size;
    for (const [c, lines] of this.chunks) {
      if (size <= this.maxLines) break;
      if (c >= firstKept && c <= lastKept) continue;
      this.chunks.delete(c);
      size -= lines.length;
    }
  }
}
