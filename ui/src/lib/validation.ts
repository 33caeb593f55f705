// Plain-language validation for what the user types. Every message says what to do.

export const DISK_MIN_GB = 8;
export const DISK_MAX_GB = 16384;

const FORBIDDEN_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-'];
const FORBIDDEN_SUFFIXES = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'];

/** S3 general purpose bucket naming rules. Returns an error message or null when valid. */
export function validateBucketName(raw: string): string | null {
  const name = raw.trim();
  if (name.length === 0) return 'Enter a bucket name.';
  if (name.length < 3) return 'A bucket name needs at least 3 characters.';
  if (name.length > 63) return `A bucket name can have at most 63 characters (this one has ${name.length}).`;
  if (/[A-Z]/.test(name)) return 'Use lowercase letters only (no capitals).';
  if (!/^[a-z0-9.-]+$/.test(name)) return 'Use only lowercase letters, digits, dots (.) and hyphens (-). No spaces or underscores.';
  if (!/^[a-z0-9]/.test(name)) return 'Start the name with a lowercase letter or a digit.';
  if (!/[a-z0-9]$/.test(name)) return 'End the name with a lowercase letter or a digit.';
  if (name.includes('..')) return 'Two dots in a row (..) are not allowed.';
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return 'A bucket name cannot look like an IP address (e.g. 192.168.0.1).';
  for (const p of FORBIDDEN_PREFIXES) {
    if (name.startsWith(p)) return `A bucket name cannot start with "${p}".`;
  }
  for (const s of FORBIDDEN_SUFFIXES) {
    if (name.endsWith(s)) return `A bucket name cannot end with "${s}".`;
  }
  return null;
}

/** Disk size in GiB: a whole number between 8 and 16384. */
export function validateDiskGb(value: number | string | null | undefined): string | null {
  if (value === null || value === undefined || value === '') return 'Enter a disk size in GiB.';
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isFinite(n)) return 'Enter the disk size as a number of GiB, e.g. 30.';
  if (!Number.isInteger(n)) return 'Enter a whole number of GiB (no decimals).';
  if (n < DISK_MIN_GB) return `The disk must be at least ${DISK_MIN_GB} GiB.`;
  if (n > DISK_MAX_GB) return `The disk can be at most ${DISK_MAX_GB} GiB (16 TiB).`;
  return null;
}

/** A custom machine image id, e.g. ami-0123456789abcdef0. */
export function validateAmiId(raw: string): string | null {
  const id = raw.trim();
  if (id.length === 0) return 'Enter an image id such as ami-0123456789abcdef0, or choose Automatic.';
  if (!/^ami-([0-9a-f]{8}|[0-9a-f]{17})$/.test(id))
    return 'An image id looks like ami- followed by 8 or 17 characters 0–9/a–f, e.g. ami-0123456789abcdef0.';
  return null;
}

/** Account display name. */
export function validateAccountName(raw: string): string | null {
  const name = raw.trim();
  if (name.length === 0) return 'Give this account a name, e.g. "Work" or "Personal".';
  if (name.length > 64) return 'Keep the name under 64 characters.';
  return null;
}

export interface KeyPair {
  accessKeyId: string;
  secretAccessKey: string;
}

/**
 * Recognise a pasted "key,secret" pair (e.g. a line copied from the AWS console's CSV)
 * in the access key id field. Returns null when the text is not such a pair.
 */
export function parsePastedKeyPair(text: string): KeyPair | null {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  for (const line of lines) {
    const parts = line.split(/[,;\t ]+/).map((p) => p.trim().replace(/^"|"$/g, ''));
    const idIdx = parts.findIndex((p) => /^(AKIA|ASIA)[A-Z0-9]{12,124}$/.test(p));
    if (idIdx >= 0 && idIdx + 1 < parts.length) {
      const secret = parts[idIdx + 1] ?? '';
      if (/^[A-Za-z0-9/+=]{16,}$/.test(secret)) return { accessKeyId: parts[idIdx] ?? '', secretAccessKey: secret };
    }
  }
  return null;
}

/** Access key ids look like AKIA… (long-term) or ASIA… (temporary). */
export function validateAccessKeyId(raw: string): string | null {
  const id = raw.trim();
  if (id.length === 0) return 'Paste your access key ID (it starts with AKIA).';
  if (!/^(AKIA|ASIA)[A-Z0-9]{12,124}$/.test(id))
    return 'An access key ID starts with AKIA (or ASIA) followed by capital letters and digits, e.g. AKIAIOSFODNN7EXAMPLE.';
  return null;
}

export function validateSecretAccessKey(raw: string): string | null {
  const s = raw.trim();
  if (s.length === 0) return 'Paste your secret access key (shown once, when the key was created).';
  if (s.length < 16 || /\s/.test(s)) return 'This does not look like a secret access key: it is a 40-character string without spaces.';
  return null;
}

export const MAX_RUNTIME_MIN_H = 1;
/** AWS runs one command (the training) for at most 48 hours. */
export const MAX_RUNTIME_MAX_H = 48;

/** Safety net: the machine turns itself off after this many hours (1 to 48: AWS's limit for one command). */
export function validateMaxRuntimeHours(value: number | string | null | undefined): string | null {
  if (value === null || value === undefined || String(value).trim() === '') return 'Enter a number of hours, e.g. 24.';
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isFinite(n) || !Number.isInteger(n)) return 'Enter a whole number of hours, e.g. 24.';
  if (n < MAX_RUNTIME_MIN_H) return 'At least 1 hour.';
  if (n > MAX_RUNTIME_MAX_H) return 'At most 48 hours: AWS runs one command for at most 48 hours, so a training cannot last longer.';
  return null;
}

/** A SageMaker training job runs on 1 to 16 machines (the backend refuses more). */
export const MACHINES_MIN = 1;
export const MACHINES_MAX = 16;

/** Number of machines of a SageMaker training job: a whole number from 1 to 16. */
export function validateMachineCount(value: number | string | null | undefined): string | null {
  if (value === null || value === undefined || String(value).trim() === '') return 'Enter a number of machines, e.g. 1.';
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isFinite(n) || !Number.isInteger(n)) return 'Enter a whole number of machines, e.g. 2.';
  if (n < MACHINES_MIN) return 'At least 1 machine.';
  if (n > MACHINES_MAX) return `At most ${MACHINES_MAX} machines for one training job.`;
  return null;
}
