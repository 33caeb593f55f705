// "Forgotten resources" in plain words (pure).
import { perMonth } from './cost';

export interface LeftoverLike {
  kind: string;
  usdPerHour: number | null;
}

const KINDS: Record<string, string> = {
  machine: 'Machine (EC2 instance)',
  stack: 'Cloud resources of a run (CloudFormation stack)',
  volume: 'Disk (EBS volume)',
  files: 'Uploaded input files (S3)',
  trainingJob: 'SageMaker training job still running',
  secrets: 'Secrets of a run (Parameter Store)',
};

export function kindLabel(kind: string): string {
  return KINDS[kind] ?? kind;
}

/** "$538.01/month", or "—" when unknown (a stack costs nothing by itself). */
export function monthlyText(l: LeftoverLike): string {
  return perMonth(l.usdPerHour) ?? '—';
}

/** "about $538.01/month in all" for the known prices, or null when none is known. */
export function totalMonthly(list: readonly LeftoverLike[]): string | null {
  const known = list.filter((l) => l.usdPerHour !== null);
  if (known.length === 0) return null;
  return perMonth(known.reduce((s, l) => s + (l.usdPerHour ?? 0), 0));
}
