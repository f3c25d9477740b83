import { PrivacyError } from './errors.js';

/** One key-encryption master key from PRIVACY_KEYS. */
export interface MasterKey {
  readonly id: string;
  readonly key: Buffer;
}

export interface PrivacyConfig {
  /** Every configured master key (id -> 32 bytes): each can unwrap, only the active one wraps. */
  readonly keys: ReadonlyMap<string, Buffer>;
  /** The id new data keys are wrapped with (PRIVACY_ACTIVE_KEY_ID, else the first key of PRIVACY_KEYS). */
  readonly activeKeyId: string;
  /** The HMAC key of the e-mail index (PRIVACY_EMAIL_HASH_KEY); not rotated with PRIVACY_KEYS. */
  readonly emailHashKey: Buffer;
  /** How many unwrapped chat keys a process keeps (PRIVACY_KEY_CACHE_SIZE). */
  readonly cacheSize: number;
  /** How long a process keeps one (PRIVACY_KEY_CACHE_TTL_MS); bounds how long an erased key stays usable elsewhere. */
  readonly cacheTtlMs: number;
  /** The Postgres schema of the key store (PRIVACY_SCHEMA). */
  readonly schema: string;
}

export const PRIVACY_DEFAULTS = {
  cacheSize: 10_000,
  cacheTtlMs: 300_000,
  schema: 'privacy',
} as const;

const KEY_ID = /^[A-Za-z0-9._-]{1,32}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;

function parse32(value: string): Buffer | undefined {
  const key = Buffer.from(value, 'base64');
  return BASE64.test(value) && key.length === 32 ? key : undefined;
}

/**
 * Parses PRIVACY_KEYS, the same shape as the app's APP_TOKEN_KEYS: comma-separated `kid:base64key`, 32-byte keys,
 * unique ids of 1-32 `[A-Za-z0-9._-]`. Returns every problem found rather than the first.
 */
export function parsePrivacyKeys(value: string): { keys: MasterKey[]; problems: string[] } {
  const keys: MasterKey[] = [];
  const problems: string[] = [];
  const entries = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    if (!KEY_ID.test(id)) {
      problems.push(`entry ${i + 1}: must be kid:base64key with a kid of 1-32 [A-Za-z0-9._-]`);
      return;
    }
    const key = parse32(entry.slice(colon + 1));
    if (key === undefined) {
      problems.push(`key "${id}": must be 32 bytes, base64 (e.g. \`openssl rand -base64 32\`)`);
      return;
    }
    if (keys.some((k) => k.id === id)) {
      problems.push(`key id "${id}" appears twice`);
      return;
    }
    keys.push({ id, key });
  });
  return { keys, problems };
}

function integer(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  fallback: number,
  min: number,
  max: number,
  problems: string[],
): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) {
    problems.push(`${name}: must be an integer from ${min} to ${max} (got "${raw.slice(0, 40)}")`);
    return fallback;
  }
  return n;
}

/**
 * Reads and validates the privacy settings once, from the environment a service passes in (libraries never read
 * `process.env`). Returns null when encryption is off (PRIVACY_KEYS unset or empty and no other PRIVACY_ setting
 * given); throws PRIVACY_CONFIG_INVALID naming every problem otherwise. Never echoes key material.
 */
export function parsePrivacyConfig(env: Readonly<Record<string, string | undefined>>): PrivacyConfig | null {
  const rawKeys = env['PRIVACY_KEYS']?.trim() ?? '';
  const problems: string[] = [];
  if (rawKeys === '') {
    const stray = ['PRIVACY_ACTIVE_KEY_ID', 'PRIVACY_EMAIL_HASH_KEY'].filter(
      (n) => (env[n]?.trim() ?? '') !== '',
    );
    if (stray.length === 0) return null;
    throw new PrivacyError(
      'PRIVACY_CONFIG_INVALID',
      `PRIVACY_KEYS: required when ${stray.join(' and ')} ${stray.length === 1 ? 'is' : 'are'} set: comma-separated kid:base64key (32-byte keys)`,
    );
  }
  const { keys, problems: keyProblems } = parsePrivacyKeys(rawKeys);
  for (const p of keyProblems) problems.push(`PRIVACY_KEYS: ${p}`);
  if (keys.length === 0 && keyProblems.length === 0) problems.push('PRIVACY_KEYS: no key given');

  const active = env['PRIVACY_ACTIVE_KEY_ID']?.trim() ?? '';
  let activeKeyId = keys[0]?.id ?? '';
  if (active !== '') {
    if (!keys.some((k) => k.id === active))
      problems.push(
        `PRIVACY_ACTIVE_KEY_ID: "${active.slice(0, 40)}" is not a key id of PRIVACY_KEYS (${keys.map((k) => k.id).join(', ') || 'none valid'})`,
      );
    activeKeyId = active;
  }

  const rawHashKey = env['PRIVACY_EMAIL_HASH_KEY']?.trim() ?? '';
  const emailHashKey = parse32(rawHashKey);
  if (emailHashKey === undefined)
    problems.push(
      rawHashKey === ''
        ? 'PRIVACY_EMAIL_HASH_KEY: required with PRIVACY_KEYS: 32 bytes, base64 (e.g. `openssl rand -base64 32`); it keys the e-mail index and is never rotated'
        : 'PRIVACY_EMAIL_HASH_KEY: must be 32 bytes, base64 (e.g. `openssl rand -base64 32`)',
    );
  else if (keys.some((k) => k.key.equals(emailHashKey)))
    problems.push('PRIVACY_EMAIL_HASH_KEY: must differ from every key of PRIVACY_KEYS');

  const cacheSize = integer(
    env,
    'PRIVACY_KEY_CACHE_SIZE',
    PRIVACY_DEFAULTS.cacheSize,
    1,
    1_000_000,
    problems,
  );
  const cacheTtlMs = integer(
    env,
    'PRIVACY_KEY_CACHE_TTL_MS',
    PRIVACY_DEFAULTS.cacheTtlMs,
    1_000,
    86_400_000,
    problems,
  );
  const schema = env['PRIVACY_SCHEMA']?.trim() || PRIVACY_DEFAULTS.schema;
  if (!SCHEMA.test(schema))
    problems.push(`PRIVACY_SCHEMA: "${schema.slice(0, 70)}" must match ${SCHEMA.source}`);

  if (problems.length > 0 || emailHashKey === undefined)
    throw new PrivacyError('PRIVACY_CONFIG_INVALID', problems.join('; '));
  return {
    keys: new Map(keys.map((k) => [k.id, k.key])),
    activeKeyId,
    emailHashKey,
    cacheSize,
    cacheTtlMs,
    schema,
  };
}
