/**
 * The README's example, type-checked: how a writer (the ingest) seals a batch and how a reader (a projection)
 * opens it, with the tombstone policy. Not run by the services; docs/privacy.md has the wiring plan.
 */
import type pg from 'pg';
import { PrivacyVault, decryptBody, encryptBody, migratePrivacy, parsePrivacyConfig } from '../src/index.js';

interface Webhook {
  readonly chatId: string;
  readonly body: string;
}

interface Sealed {
  readonly keyScope: string;
  readonly keyVersion: number;
  /** null: the chat was erased; its body is dropped, never written in clear nor with a new key. */
  readonly envelope: Buffer | null;
}

/** Once at start-up: null when PRIVACY_KEYS is empty (encryption off). */
export async function openVault(pool: pg.Pool, env: NodeJS.ProcessEnv): Promise<PrivacyVault | null> {
  const config = parsePrivacyConfig(env);
  if (config === null) return null;
  await migratePrivacy(pool, { schema: config.schema });
  return new PrivacyVault(pool, config);
}

/** Writer: one key look-up for the whole batch (creating keys at first sight), one envelope per body. */
export async function sealBatch(
  vault: PrivacyVault,
  tenantId: string,
  batch: readonly Webhook[],
): Promise<Sealed[]> {
  const keys = await vault.keysFor(
    tenantId,
    batch.map((w) => w.chatId),
    { create: true },
  );
  return batch.map((w) => {
    const state = keys.get(w.chatId)!;
    if (state.state !== 'active') return { keyScope: w.chatId, keyVersion: 1, envelope: null };
    return {
      keyScope: w.chatId,
      keyVersion: state.key.version,
      envelope: encryptBody(state.key, Buffer.from(w.body, 'utf8')),
    };
  });
}

/** Reader: erased or unreadable bodies are skipped (null), never dead-lettered; other errors propagate (retry). */
export async function openBatch(
  vault: PrivacyVault,
  tenantId: string,
  batch: readonly Sealed[],
): Promise<Array<string | null>> {
  const keys = await vault.keysFor(
    tenantId,
    batch.map((s) => s.keyScope),
    { create: false },
  );
  return batch.map((s) => {
    const state = keys.get(s.keyScope)!;
    if (s.envelope === null || state.state === 'erased') return null;
    if (state.state === 'absent') return null; // a reader retries instead: throw requireKey(…)'s error
    try {
      return decryptBody(state.key, s.envelope).toString('utf8');
    } catch {
      return null; // PRIVACY_CIPHERTEXT_INVALID: count it, skip the value
    }
  });
}
