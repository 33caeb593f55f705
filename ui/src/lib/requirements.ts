// How a requirements.txt's package list is shown.

export interface PackageSpec {
  name: string;
  /** Version constraint as written, e.g. "==2.1.0" or ">=1.26"; empty when none. */
  version: string;
  /** The whole line as the backend reported it. */
  raw: string;
}

/** Split "numpy==1.26.4", "torch>=2", "pandas[parquet]~=2.2", "scikit-learn" into name and version. */
export function parsePackage(line: string): PackageSpec {
  const raw = line.trim();
  const withoutMarker = raw.split(';')[0]?.trim() ?? raw;
  const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(.*)$/.exec(withoutMarker);
  if (!m) return { name: raw, version: '', raw };
  return { name: (m[1] ?? '') + (m[2] ?? ''), version: (m[3] ?? '').trim(), raw };
}

export interface PackageSummary {
  shown: PackageSpec[];
  hiddenCount: number;
  total: number;
  /** One line such as "numpy, pandas, torch and 4 more". */
  sentence: string;
}

export function summarizePackages(packages: readonly string[], max = 12): PackageSummary {
  const specs = packages.map(parsePackage).filter((p) => p.name.length > 0);
  const shown = specs.slice(0, max);
  const hiddenCount = Math.max(0, specs.length - shown.length);
  let sentence: string;
  if (specs.length === 0) sentence = 'No packages listed: only the Python standard library will be available.';
  else {
    const names = specs.slice(0, 3).map((p) => p.name);
    const rest = specs.length - names.length;
    sentence = rest > 0 ? `${names.join(', ')} and ${rest} more` : joinAnd(names);
  }
  return { shown, hiddenCount, total: specs.length, sentence };
}

function joinAnd(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}
