// The log panel's virtual scrolling: only the rows on screen exist in the page. Browsers cap an
// element's height (2^31 / 64 ≈ 33.5 million px in Chromium and WebKit), so past MAX_SCROLL_PX
// (1.5 million lines of 20 px) the scroll bar stands for a fraction of the log rather than for
// pixels, and the panel scrolls by lines itself (wheel, keys). Pure.

export const MAX_SCROLL_PX = 30_000_000;

/** True when the scroll bar is scaled (the log is taller than a browser can scroll in pixels). */
export function scaled(g: Geometry): boolean {
  return g.total * g.rowHeight > MAX_SCROLL_PX;
}

export interface Geometry {
  total: number;
  rowHeight: number;
  viewHeight: number;
}

/** Height of the scrolled content. */
export function contentHeight(g: Geometry): number {
  return Math.min(g.total * g.rowHeight, MAX_SCROLL_PX);
}

function maxScroll(g: Geometry): number {
  return Math.max(0, contentHeight(g) - g.viewHeight);
}

/** How many positions the top line can take (0 when everything fits). */
function topSpan(g: Geometry): number {
  return Math.max(0, g.total - g.viewHeight / g.rowHeight);
}

/** The (fractional) line at the top of the view for a scroll position. */
export function topLineAt(scrollTop: number, g: Geometry): number {
  const max = maxScroll(g);
  if (max <= 0) return 0;
  return (Math.min(Math.max(0, scrollTop), max) / max) * topSpan(g);
}

/** The scroll position that puts line `top` (fractional) at the top of the view. */
export function scrollTopFor(top: number, g: Geometry): number {
  const span = topSpan(g);
  if (span <= 0) return 0;
  return (Math.min(Math.max(0, top), span) / span) * maxScroll(g);
}

/** The scroll position at the end of the log. */
export function scrollEnd(g: Geometry): number {
  return maxScroll(g);
}

/** The rows to draw: [first, last) and how far the first is shifted up (px). */
export function visibleRows(scrollTop: number, g: Geometry): { first: number; last: number; shift: number } {
  const top = topLineAt(scrollTop, g);
  const first = Math.floor(top);
  const count = Math.ceil(g.viewHeight / g.rowHeight) + 1;
  return { first, last: Math.min(g.total, first + count), shift: (top - first) * g.rowHeight };
}

/** Local wall-clock time of a line, "14:31:07"; "" when unknown. */
export function formatClock(atMs: number | null | undefined): string {
  if (atMs === null || atMs === undefined || !Number.isFinite(atMs)) return '';
  const d = new Date(atMs);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** The text split around each case-insensitive occurrence of `query`, for <mark>. */
export function splitMatches(text: string, query: string): { text: string; match: boolean }[] {
  const q = query.toLowerCase();
  if (!q) return [{ text, match: false }];
  const lower = text.toLowerCase();
  const out: { text: string; match: boolean }[] = [];
  let at = 0;
  for (let i = lower.indexOf(q); i >= 0; i = lower.indexOf(q, i + q.length)) {
    if (i > at) out.push({ text: text.slice(at, i), match: false });
    out.push({ text: text.slice(i, i + q.length), match: true });
    at = i + q.length;
  }
  if (at < text.length) out.push({ text: text.slice(at), match: false });
  return out;
}
