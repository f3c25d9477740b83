import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { sealChatEvent } from '@livechat-pipeline/events';
import type { ConsumerError } from '@livechat-pipeline/postgres-consumer';
import { classifyError } from '@livechat-pipeline/postgres-consumer';
import pg from 'pg';
import { ChatKey, PrivacyVault, isPrivacyError, parsePrivacyConfig } from '@livechat-pipeline/privacy';
import { loadTranscriptsConfig } from '../src/config.js';
import { consumerOptions, createTranscriptsKafka } from '../src/consumer.js';
import { ChatEventOpener } from '../src/privacy.js';
import { canaryChat } from './support/canary.js';

// What the consumer does with sealed events when it has no key store (PRIVACY_KEYS empty): plain events pass,
// erased ones are applied without their values, a sealed one waits with a line saying what to configure.
const tenant = 'tenant-1';
const [started, , , posted] = canaryChat(tenant, 'x', 'CANARY-UNIT');
const key = new ChatKey(tenant, 'chat-x', 1, randomBytes(32));

describe('transcripts: ChatEventOpener without a key store', () => {
  it('passes plain events as they are', async () => {
    const opener = new ChatEventOpener(null, { service: 'transcripts' });
    expect(await opener.open([started!, posted!])).toEqual([started, posted]);
  });

  it('applies an erased event (envelope dropped) without its values and counts it', async () => {
    const registry = new Registry();
    const opener = new ChatEventOpener(null, { service: 'transcripts', registry });
    const [opened] = await opener.open([sealChatEvent(posted!, 'chat-x', 'erased')]);
    expect(JSON.stringify(opened)).not.toContain('CANARY-UNIT');
    expect(
      await registry.getSingleMetricAsString('transcripts_privacy_fields_undecryptable_total'),
    ).toContain('transcripts_privacy_fields_undecryptable_total{reason="erased"} 1');
  });

  it('refuses a sealed event retryably, naming PRIVACY_KEYS, and the warn line says so without any value', async () => {
    const opener = new ChatEventOpener(null, { service: 'transcripts' });
    const error = await opener
      .open([started!, sealChatEvent(posted!, 'chat-x', key)])
      .catch((e: unknown) => e);
    expect(isPrivacyError(error) && error.code).toBe('PRIVACY_KEY_UNAVAILABLE');
    expect((error as Error).message).toContain('PRIVACY_KEYS is not set');
    // The runtime keeps the partition waiting on it (retryable), and the service's line carries the message.
    const classified = classifyError(error, 'handler');
    expect(classified.retryable).toBe(true);
    const lines: string[] = [];
    const logger = pino(
      { level: 'warn' },
      new Writable({ write: (chunk: Buffer, _encoding, done) => done(void lines.push(chunk.toString())) }),
    );
    const config = loadTranscriptsConfig({});
    // A client that never connects: only the option's log mapping is used.
    const options = consumerOptions(config, createTranscriptsKafka(config, logger), logger);
    options.onEvent!({
      type: 'transient-failure',
      topic: 't',
      partition: 0,
      attempt: 1,
      delayMs: 200,
      error: classified as ConsumerError,
    });
    expect(lines.join('')).toContain('PRIVACY_KEYS is not set');
    expect(lines.join('')).not.toContain('CANARY-UNIT');
  });
});

describe('transcripts: privacy configuration', () => {
  const keys = {
    PRIVACY_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    PRIVACY_EMAIL_HASH_KEY: randomBytes(32).toString('base64'),
  };

  it('is off without PRIVACY_KEYS, and on with it: the key store in DATABASE_URL by default, 2 connections', () => {
    expect(loadTranscriptsConfig({}).privacy).toBeNull();
    const on = loadTranscriptsConfig({ ...keys, DATABASE_URL: 'postgres://u:p@db:5432/projections' }).privacy;
    expect(on).toMatchObject({ databaseUrl: 'postgres://u:p@db:5432/projections', poolSize: 2 });
    expect(on!.vault.activeKeyId).toBe('k1');
    const apart = loadTranscriptsConfig({
      ...keys,
      PRIVACY_DATABASE_URL: 'postgres://u:p@keys:5432/keys',
      TRANSCRIPTS_PRIVACY_POOL_SIZE: '4',
    }).privacy;
    expect(apart).toMatchObject({ databaseUrl: 'postgres://u:p@keys:5432/keys', poolSize: 4 });
  });

  it('refuses a bad key as a configuration error naming the variable, never echoing the key', () => {
    const secret = randomBytes(16).toString('base64');
    let error: unknown;
    try {
      loadTranscriptsConfig({ ...keys, PRIVACY_KEYS: `k1:${secret}` });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({
      code: 'SERVICE_BAD_CONFIG',
      message: expect.stringContaining('PRIVACY_KEYS'),
    });
    expect((error as Error).message).not.toContain(secret);
  });

  it('applies an event with a malformed key scope without its values, counted invalid, and asks the key store nothing', async () => {
    const registry = new Registry();
    // A key store nobody can reach: a look-up would fail; a malformed scope must not need one.
    const pool = new pg.Pool({
      connectionString: 'postgres://nobody@127.0.0.1:1/none',
      connectionTimeoutMillis: 200,
    });
    const vault = new PrivacyVault(
      pool,
      parsePrivacyConfig({
        PRIVACY_KEYS: `k1:${randomBytes(32).toString('base64')}`,
        PRIVACY_EMAIL_HASH_KEY: randomBytes(32).toString('base64'),
      })!,
    );
    try {
      const sealed = sealChatEvent(posted!, 'chat-x', key) as unknown as { sealed: Record<string, unknown> };
      const malformed = { ...sealed, sealed: { ...sealed.sealed, key_scope: 'x'.repeat(300) } };
      const opener = new ChatEventOpener(vault, { service: 'transcripts', registry });
      const [opened] = await opener.open([malformed as unknown as typeof posted & object]);
      expect(JSON.stringify(opened)).not.toContain('CANARY-UNIT');
      expect(vault.stats().queries).toBe(0);
      expect(
        await registry.getSingleMetricAsString('transcripts_privacy_fields_undecryptable_total'),
      ).toContain('transcripts_privacy_fields_undecryptable_total{reason="invalid"} 1');
    } finally {
      await pool.end();
    }
  });
});
