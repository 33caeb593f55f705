// train.py's secrets (WANDB_API_KEY, HF_TOKEN…): names are checked here as the backend checks them
// (src-tauri/core/src/secrets/names.rs); values go to the backend once and never come back.

/** The most characters Parameter Store keeps in a value (its standard tier). */
export const MAX_SECRET_CHARS = 4096;

const RESERVED = [
  'PATH',
  'HOME',
  'USER',
  'SHELL',
  'TMPDIR',
  'OUTPUT_DIR',
  'DATA_DIR',
  'PYTHONPATH',
  'PYTHONHOME',
  'PYTHONSTARTUP',
  'VIRTUAL_ENV',
];
const RESERVED_PREFIXES = ['EASYTDV_', 'AWS_', 'LD_', 'SM_'];

/** A secret's name is the environment variable train.py reads. Returns an error message or null. */
export function validateSecretName(raw: string): string | null {
  const name = raw.trim();
  if (!name) return 'Enter the name train.py reads, e.g. HF_TOKEN.';
  if (name.length > 128) return 'Use at most 128 characters.';
  if (/^[0-9]/.test(name)) return 'Start the name with a letter or _, not a digit.';
  if (!/^[A-Za-z0-9_]+$/.test(name)) return 'Use only letters A–Z, digits and _ (no spaces, dashes or dots), e.g. WANDB_API_KEY.';
  const upper = name.toUpperCase();
  if (RESERVED.includes(upper)) return `${name} is set by the machine itself: choose another name.`;
  const prefix = RESERVED_PREFIXES.find((p) => upper.startsWith(p));
  if (prefix) return `Names starting with ${prefix} are set by the machine or easyTDV: choose another name.`;
  return null;
}

/** A secret's value: not empty, at most 4,096 characters. */
export function validateSecretValue(raw: string): string | null {
  if (!raw.trim()) return 'Paste the token or key itself.';
  const chars = [...raw].length;
  if (chars > MAX_SECRET_CHARS)
    return `This is ${chars} characters; AWS keeps at most ${MAX_SECRET_CHARS}. Keep the token itself here, and files in your bucket.`;
  return null;
}

/** The chosen names that the account still has (a secret deleted since, or another account's, is dropped). */
export function keepKnown(chosen: string[], known: string[] | null): string[] {
  return known ? chosen.filter((n) => known.includes(n)) : chosen;
}
