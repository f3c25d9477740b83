import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The fake credentials the fixtures are written with. */
export const FIXTURE_V3_SECRET = 'fixture-v3-secret';
export const FIXTURE_V2_TOKEN = 'fixture0v2token0000000000000000aa';
export const FIXTURE_BASIC_USER = 'livechat';
export const FIXTURE_BASIC_PASSWORD = 'fixture-basic-pw';

export type JsonBody = Record<string, unknown>;

export interface Fixture {
  readonly name: string;
  readonly body: JsonBody;
}

const dir = fileURLToPath(new URL('../fixtures/', import.meta.url));

export function loadFixtures(): Fixture[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((name) => ({ name, body: JSON.parse(readFileSync(`${dir}${name}`, 'utf8')) as JsonBody }));
}

export function fixture(name: string): JsonBody {
  return JSON.parse(readFileSync(`${dir}${name}.json`, 'utf8')) as JsonBody;
}

export function basicAuthHeader(user = FIXTURE_BASIC_USER, password = FIXTURE_BASIC_PASSWORD): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** The headers a correctly authenticated delivery of this body carries. */
export function authHeadersFor(body: JsonBody): Record<string, string> {
  return 'event_type' in body ? { authorization: basicAuthHeader() } : {};
}

/** The body as it must come back from the topic: secrets replaced by the marker. */
export function redacted(body: JsonBody): JsonBody {
  const copy = { ...body };
  if ('token' in copy) copy.token = '[redacted]';
  if ('secret_key' in copy) copy.secret_key = '[redacted]';
  return copy;
}
