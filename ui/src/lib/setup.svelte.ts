// The account setup forms' state, kept by SetupView while the "verifying" stage replaces the form
// (so a failed check comes back to the form as it was).
import type { ProfileInfo } from './api';
import { parsePastedKeyPair, validateAccessKeyId, validateAccountName, validateSecretAccessKey } from './validation';

export type SetupStage = 'choose' | 'aws' | 'admin' | 'sandbox' | 'verifying' | 'result';
export type CredentialMethod = 'keys' | 'csv' | 'profile';

const DEFAULT_NAME = 'My AWS account';

/** "Connect your AWS account": how the credentials are given, and the fields of each way. */
export class AwsForm {
  method = $state<CredentialMethod>('keys');
  name = $state(DEFAULT_NAME);
  region = $state('us-east-1');
  accessKeyId = $state('');
  secretAccessKey = $state('');
  sessionToken = $state('');
  showSecret = $state(false);
  profile = $state('');
  /** AWS CLI profiles found on this computer; null until asked. */
  profiles = $state<ProfileInfo[] | null>(null);
  /** Field id (without the `setup-` prefix) → what is wrong with it. */
  errors = $state<Record<string, string>>({});
  pasteNote = $state('');

  /** The profiles found: the first one (and its region) is chosen unless one already is. */
  setProfiles(found: ProfileInfo[]): void {
    this.profiles = found;
    const first = found[0];
    if (first && !this.profile) {
      this.profile = first.name;
      if (first.region) this.region = first.region;
    }
  }

  /** Another profile chosen: its region, and a name saying which profile it is unless the user typed one. */
  profileChanged(): void {
    const p = this.profiles?.find((x) => x.name === this.profile);
    if (p?.region) this.region = p.region;
    if (!this.name.trim() || this.name === DEFAULT_NAME) this.name = `AWS profile ${this.profile}`;
  }

  /** "key,secret" (or a CSV line) pasted or typed: fills both fields. */
  tryPair(text: string): boolean {
    const pair = parsePastedKeyPair(text);
    if (!pair) return false;
    this.accessKeyId = pair.accessKeyId;
    this.secretAccessKey = pair.secretAccessKey;
    this.pasteNote = 'We recognised an access key and its secret in what you pasted, and filled in both fields.';
    delete this.errors.accessKeyId;
    delete this.errors.secretAccessKey;
    return true;
  }

  /** Checks the fields of the chosen method; the first field with an error, or null. */
  validate(): string | null {
    const e: Record<string, string> = {};
    const n = validateAccountName(this.name);
    if (n) e.name = n;
    if (!this.region) e.region = 'Choose a region.';
    if (this.method === 'keys') {
      const a = validateAccessKeyId(this.accessKeyId);
      if (a) e.accessKeyId = a;
      const s = validateSecretAccessKey(this.secretAccessKey);
      if (s) e.secretAccessKey = s;
    }
    if (this.method === 'profile' && !this.profile) e.profile = 'Choose a profile.';
    this.errors = e;
    return Object.keys(e)[0] ?? null;
  }

  clearSecrets(): void {
    this.secretAccessKey = '';
    this.sessionToken = '';
    this.accessKeyId = '';
    this.showSecret = false;
  }
}

/** The sandbox address typed on the sandbox stage: an error message, or null. */
export function validateEndpoint(endpoint: string): string | null {
  const e = endpoint.trim();
  if (!/^http:\/\/\S+:\d+\/?$/.test(e)) return 'Enter the sandbox address, e.g. http://127.0.0.1:4566';
  // The sandbox runs code as you: it must be on this computer.
  if (!/^http:\/\/(127\.0\.0\.1|\[::1\]):/.test(e)) return 'The sandbox runs on this computer only: use http://127.0.0.1:PORT';
  return null;
}
