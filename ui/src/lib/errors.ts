// Turn whatever a command rejected with into something a person can act on.

export interface Problem {
  code: string;
  message: string;
  hint: string | null;
}

function isProblem(e: unknown): e is Problem {
  return typeof e === 'object' && e !== null && 'message' in e && typeof (e as { message: unknown }).message === 'string';
}

export function toProblem(e: unknown): Problem {
  if (isProblem(e)) {
    const code = typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : 'unknown';
    const hint = typeof (e as { hint?: unknown }).hint === 'string' ? (e as { hint: string }).hint : null;
    return { code, message: e.message, hint };
  }
  if (typeof e === 'string') return { code: 'unknown', message: e, hint: null };
  return {
    code: 'unknown',
    message: 'Something went wrong.',
    hint: 'Try again. If it keeps happening, restart easyTDV.',
  };
}
