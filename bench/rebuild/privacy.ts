/**
 * Encryption on, as `npm start` runs (issue 19), for a pre-load that outlives the run: the key store schema and the
 * master keys belong to the cached topic (named after the seed and count), so a later run can still open its events.
 * The master key is derived from the seed, not random: a benchmark's throw-away data, sealed with a key anyone can
 * re-derive — never a pattern for real keys. Sealing the raw bodies is what bench/chain/privacy.ts does (the ingest's
 * work, untimed), repeated here because that one makes random keys and drops its key store at the end of its run.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { rawKeyScope, sealRawBody } from '@livechat-pipeline/events';
import {
  MAX_CHATS_PER_CALL,
  PrivacyVault,
  migratePrivacy,
  parsePrivacyConfig,
} from '@livechat-pipeline/privacy';
import type { KeyedRawWebhook } from '../lib/raw-webhooks.js';

export interface PreloadPrivacy {
  /** Spread into the normalizer's and the rebuild's environment. */
  readonly env: Readonly<Record<string, string>>;
  readonly schema: string;
  /** Seals the records' bodies in place with keys made in the key store (as the ingest does); returns how many. */
  seal(records: KeyedRawWebhook[]): Promise<number>;
  close(): Promise<void>;
}

const derived = (label: string, seed: number): string =>
  createHash('sha256').update(`bench-rebuild|${label}|${seed}`).digest('base64');

export async function preloadPrivacy(
  databaseUrl: string,
  schema: string,
  seed: number,
): Promise<PreloadPrivacy> {
  const env = {
    PRIVACY_KEYS: `bench-rebuild:${derived('kek', seed)}`,
    PRIVACY_EMAIL_HASH_KEY: derived('email-hash', seed),
    PRIVACY_DATABASE_URL: databaseUrl,
    PRIVACY_SCHEMA: schema,
  };
  const config = parsePrivacyConfig(env);
  if (config === null) throw new Error('privacy configuration missing');
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  await migratePrivacy(pool, { schema: config.schema });
  const vault = new PrivacyVault(pool, config);
  return {
    env,
    schema,
    async seal(records) {
      const scopes = records.map((r) =>
        rawKeyScope({
          action: r.value.action ?? null,
          chatId: r.value.chat_id ?? null,
          eventId: r.value.event_id,
          body: JSON.parse(r.value.body) as unknown,
        }),
      );
      const byTenant = new Map<string, Set<string>>();
      records.forEach((r, i) => {
        const scope = scopes[i];
        const tenant = r.value.tenant;
        if (scope === null || scope === undefined || tenant === null) return;
        const set = byTenant.get(tenant) ?? new Set<string>();
        set.add(scope);
        byTenant.set(tenant, set);
      });
      const keys = new Map<string, Awaited<ReturnType<PrivacyVault['keysFor']>>>();
      for (const [tenant, set] of byTenant) {
        const all = [...set];
        const merged: Awaited<ReturnType<PrivacyVault['keysFor']>> = new Map();
        for (let i = 0; i < all.length; i += MAX_CHATS_PER_CALL)
          for (const [scope, state] of await vault.keysFor(tenant, all.slice(i, i + MAX_CHATS_PER_CALL), {
            create: true,
          }))
            merged.set(scope, state);
        keys.set(tenant, merged);
      }
      let sealed = 0;
      records.forEach((r, i) => {
        const scope = scopes[i];
        const tenant = r.value.tenant;
        if (scope === null || scope === undefined || tenant === null) return;
        const state = keys.get(tenant)?.get(scope);
        if (state?.state !== 'active') throw new Error(`no key for ${tenant}/${scope}`);
        records[i] = { key: r.key, value: sealRawBody(r.value, scope, state.key) };
        sealed++;
      });
      return sealed;
    },
    close: () => pool.end(),
  };
}
