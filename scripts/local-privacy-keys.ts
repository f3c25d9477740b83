/**
 * `npm start`'s local privacy keys: generated once into the stack's data folder (so `pnpm stack down --clean`
 * removes them together with the log and the key store they protect), read back on every start. Never used when
 * PRIVACY_KEYS is set (even empty: privacy off) or under NODE_ENV=production.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

interface LocalPrivacyKeys {
  readonly keys: string;
  readonly emailHashKey: string;
}

const KEYS_FILE = path.join('privacy', 'local-dev-keys.json');

/** The file, relative to the stack's data folder (for messages and tests). */
export const LOCAL_PRIVACY_KEYS_FILE = KEYS_FILE;

/**
 * PRIVACY_KEYS and PRIVACY_EMAIL_HASH_KEY for every service, from `<dataDir>/privacy/local-dev-keys.json`
 * (created with mode 0600 on first use); `{}` when the environment decides (PRIVACY_KEYS present) or in production.
 */
export function localPrivacyEnv(
  env: NodeJS.ProcessEnv,
  dataDir: string,
): { readonly env: Record<string, string>; readonly file?: string; readonly created?: boolean } {
  if (env['PRIVACY_KEYS'] !== undefined || env['NODE_ENV'] === 'production') return { env: {} };
  const file = path.join(dataDir, KEYS_FILE);
  let created = false;
  let keys: LocalPrivacyKeys;
  try {
    keys = JSON.parse(readFileSync(file, 'utf8')) as LocalPrivacyKeys;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const fresh: LocalPrivacyKeys = {
      keys: `local-1:${randomBytes(32).toString('base64')}`,
      emailHashKey: randomBytes(32).toString('base64'),
    };
    try {
      // 'wx': two starts racing keep the first file; the second reads it
      writeFileSync(file, `${JSON.stringify(fresh, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
      created = true;
      keys = fresh;
    } catch (raced) {
      if ((raced as NodeJS.ErrnoException).code !== 'EEXIST') throw raced;
      keys = JSON.parse(readFileSync(file, 'utf8')) as LocalPrivacyKeys;
    }
  }
  return {
    env: { PRIVACY_KEYS: keys.keys, PRIVACY_EMAIL_HASH_KEY: keys.emailHashKey },
    file,
    created,
  };
}
