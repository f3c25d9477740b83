import { createHash, randomBytes } from 'node:crypto';

const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** An opaque id like LiveChat's webhook ids (`pqi8oasdjahuakndw9nsad9na`). */
export function webhookId(): string {
  const bytes = randomBytes(25);
  let out = '';
  for (const b of bytes) out += ALNUM[b % ALNUM.length];
  return out;
}

export function randomToken(prefix = ''): string {
  return `${prefix}${randomBytes(24).toString('base64url')}`;
}

export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}
