// Money, in plain words (pure): prices per hour, what a run costs so far, the review's quote.

/** Hours in a month, as AWS prices monthly costs. */
export const HOURS_PER_MONTH = 730;

/** "$0.0472" below 10 cents (small machines differ in the third decimal), "$1.23", "$1,234". */
export function formatUsd(usd: number | null | undefined): string | null {
  if (usd === null || usd === undefined || !Number.isFinite(usd)) return null;
  const abs = Math.abs(usd);
  if (abs === 0) return '$0.00';
  if (abs < 0.1) return `$${Number(usd.toPrecision(3))}`;
  if (abs >= 1000) return `$${Math.round(usd).toLocaleString('en-US')}`;
  return `$${usd.toFixed(2)}`;
}

/** "$0.0472/h", or "price unknown". */
export function perHour(usd: number | null | undefined): string {
  const s = formatUsd(usd);
  return s ? `${s}/h` : 'price unknown';
}

/** "$34.46/month" from an hourly price, or null when unknown. */
export function perMonth(usdPerHour: number | null | undefined): string | null {
  if (usdPerHour === null || usdPerHour === undefined) return null;
  const s = formatUsd(usdPerHour * HOURS_PER_MONTH);
  return s && `${s}/month`;
}

/** "24 h", "1.5 h", "0.25 h". */
export function formatHours(h: number): string {
  return `${Number(h.toFixed(2))} h`;
}

export interface QuoteLike {
  usdPerHour: number | null;
  safetyStopHours: number | null;
  atMostUsd: number | null;
  budgetIgnored: boolean;
}

/** "About $0.05 per hour; at most $1.13 if it runs until the safety stop (24 h)." */
export function quoteSentence(q: QuoteLike): string {
  const rate = formatUsd(q.usdPerHour);
  if (!rate) return 'Price unknown: AWS did not tell easyTDV the price of this machine. You can still launch.';
  const most = formatUsd(q.atMostUsd);
  const hours = q.safetyStopHours === null ? null : formatHours(q.safetyStopHours);
  if (most && hours) return `About ${rate} per hour; at most ${most} if it runs until the safety stop (${hours}).`;
  return `About ${rate} per hour.`;
}

/** A SageMaker quote (its price is for all the machines together): "About $2.82 per hour for 2 machines; at most $67.70 if they run until the safety stop (24 h)." */
export function trainingQuoteSentence(q: QuoteLike, machines: number): string {
  const rate = formatUsd(q.usdPerHour);
  if (!rate) return 'Price unknown: AWS did not tell easyTDV the price of this machine type. You can still launch.';
  const one = machines === 1;
  const what = `${machines} machine${one ? '' : 's'}`;
  const most = formatUsd(q.atMostUsd);
  const hours = q.safetyStopHours === null ? null : formatHours(q.safetyStopHours);
  if (most && hours)
    return `About ${rate} per hour for ${what}; at most ${most} if ${one ? 'it runs' : 'they run'} until the safety stop (${hours}).`;
  return `About ${rate} per hour for ${what}.`;
}

/** A budget cap as typed: '' → null (no cap); else a positive number of dollars, or an error message. */
export function parseBudget(text: string): { value: number | null; error: string | null } {
  const t = text.trim().replace(/^\$/, '').replace(',', '.');
  if (!t) return { value: null, error: null };
  const n = Number(t);
  if (!Number.isFinite(n) || n <= 0) return { value: null, error: 'Enter an amount in dollars, such as 5 or 2.50, or leave it empty.' };
  if (n > 100_000) return { value: null, error: 'That is more than $100,000: enter a smaller amount, or leave it empty.' };
  return { value: n, error: null };
}

export interface MeterInput {
  /** Unix seconds of the launch. */
  launchedAt: number | null;
  /** Unix seconds when the machine was found gone. */
  endedAt: number | null;
  usdPerHour: number | null;
  safetyStopHours: number | null;
  /** Machines billed at that rate. */
  machines: number;
  /** The run's earlier machines (a relaunch): hours they ran (counted against the safety stop) and their cost. */
  earlierHours?: number;
  earlierUsd?: number;
}

export interface Meter {
  /** Seconds billed so far (never past the safety stop). */
  seconds: number;
  usd: number | null;
  /** Still counting (no end, safety stop not reached). */
  running: boolean;
  /** Unix seconds of the safety stop, when known. */
  stopAt: number | null;
  /** What it costs if it runs until the safety stop. */
  atMostUsd: number | null;
}

/**
 * The run view's cost meter at `nowSec`: the earlier machines' time and cost (a relaunch), then elapsed since the
 * launch × $/h until the end or the safety stop (what the earlier machines left of it). As `prices::run_cost`.
 */
export function meter(m: MeterInput, nowSec: number): Meter {
  const n = Math.max(1, m.machines || 1);
  const rate = m.usdPerHour === null ? null : m.usdPerHour * n;
  const earlierHours = m.earlierHours ?? 0;
  const earlierUsd = m.earlierUsd ?? 0;
  const leftHours = m.safetyStopHours === null ? null : m.safetyStopHours - earlierHours;
  const stopAt = m.launchedAt !== null && leftHours !== null ? m.launchedAt + leftHours * 3600 : null;
  const atMostUsd = rate !== null && leftHours !== null ? earlierUsd + rate * leftHours : null;
  const earlierSeconds = earlierHours * 3600;
  if (m.launchedAt === null) {
    const usd = rate === null && earlierUsd === 0 ? null : earlierUsd;
    return { seconds: earlierSeconds, usd, running: false, stopAt, atMostUsd };
  }
  let end = m.endedAt ?? nowSec;
  if (stopAt !== null) end = Math.min(end, stopAt);
  const seconds = Math.max(0, end - m.launchedAt);
  const running = m.endedAt === null && (stopAt === null || nowSec < stopAt);
  const usd = rate === null ? null : earlierUsd + (rate * seconds) / 3600;
  return { seconds: earlierSeconds + seconds, usd, running, stopAt, atMostUsd };
}

/** A running meter's time: 65 → "1:05", 3605 → "1:00:05". */
export function formatClock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}
