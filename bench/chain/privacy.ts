/**
 * Encryption on or off for one chain run (issue 19): with it on, every service of the run gets the PRIVACY_*
 * variables (master key and e-mail hash key made for this run, never stored; a key store schema of the run's own),
 * and the pre-load seals the raw records as the ingest would (untimed, like the rest of the pre-load), so the timed
 * chain pays what encryption costs the normalizer (open the body, seal the events) and the projections (open them).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Kafka } from 'kafkajs';
import {
  ConfluentAvroSerde,
  SchemaRegistryClient,
  rawKeyScope,
  readChatEvent,
  sealRawBody,
} from '@livechat-pipeline/events';
import {
  MAX_CHATS_PER_CALL,
  PrivacyVault,
  migratePrivacy,
  parsePrivacyConfig,
} from '@livechat-pipeline/privacy';
import type { KeyedRawWebhook } from '../lib/raw-webhooks.js';
import type { Endpoints } from './runtime.js';

export type PrivacyMode = 'off' | 'on';

export interface PrivacyRun {
  readonly mode: PrivacyMode;
  /** Spread into every service's environment of the run (empty when off). */
  readonly env: Readonly<Record<string, string>>;
  /** Seals the records' bodies in place (a no-op when off); returns how many were sealed. */
  seal(records: KeyedRawWebhook[]): Promise<number>;
  close(): Promise<void>;
}

export function privacyOff(): PrivacyRun {
  return { mode: 'off', env: {}, seal: async () => 0, close: async () => undefined };
}

export async function privacyOn(e: Endpoints, suffix: string): Promise<PrivacyRun> {
  const env = {
    PRIVACY_KEYS: `bench:${randomBytes(32).toString('base64')}`,
    PRIVACY_EMAIL_HASH_KEY: randomBytes(32).toString('base64'),
    PRIVACY_DATABASE_URL: e.databaseUrl,
    PRIVACY_SCHEMA: `bench_pv_${suffix}`,
  };
  const config = parsePrivacyConfig(env);
  if (config === null) throw new Error('privacy configuration missing');
  const pool = new pg.Pool({ connectionString: e.databaseUrl, max: 2 });
  await migratePrivacy(pool, { schema: config.schema });
  const vault = new PrivacyVault(pool, config);
  return {
    mode: 'on',
    env,
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
    async close() {
      await pool.query(`drop schema if exists "${config.schema}" cascade`).catch(() => undefined);
      await pool.end();
    },
  };
}

/**
 * Of the first `limit` records of a chat-events topic, how many carry a sealed envelope: proof that the normalizer
 * of a run with encryption on did seal what it produced (0 makes the on/off figure INVALID).
 */
export async function sampleSealedEvents(
  kafka: Kafka,
  schemaRegistryUrl: string,
  topic: string,
  limit = 500,
): Promise<{ read: number; sealed: number }> {
  const serde = new ConfluentAvroSerde(new SchemaRegistryClient({ baseUrl: schemaRegistryUrl }));
  const consumer = kafka.consumer({
    groupId: `bench-sealed-sample-${Date.now().toString(36)}`,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  let read = 0;
  let sealed = 0;
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, 30_000); // a topic with fewer records than the limit
      consumer
        .run({
          eachMessage: async ({ message }) => {
            if (read >= limit || message.value === null) return;
            read++;
            const event = await readChatEvent(serde, message.value);
            if (event.sealed?.envelope != null) sealed++;
            if (read >= limit) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return { read, sealed };
}
