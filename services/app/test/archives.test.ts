import { describe, expect, it } from 'vitest';
import { parseBackfillArgs, progressLine } from '../src/archives/backfill-cli.js';
import { canReadChats } from '../src/archives/jobs.js';
import type { ArchiveWalk } from '../src/archives/store.js';
import { threadFingerprint } from '../src/archives/walk-runner.js';
import { backfillState } from '../src/routes/settings.js';

const walk = (over: Partial<ArchiveWalk> = {}): ArchiveWalk => ({
  id: '1',
  tenantId: 'org',
  kind: 'backfill',
  trigger: 'install',
  since: new Date('2026-10-01T00:00:00Z'),
  until: new Date('2026-11-01T00:00:00Z'),
  status: 'running',
  pageId: 'p',
  pages: 3,
  threads: 300,
  written: 300,
  restricted: 0,
  foundChats: 1200,
  lastThreadCreatedAt: null,
  errorCode: null,
  errorMessage: null,
  startedAt: new Date('2026-11-01T00:00:00Z'),
  updatedAt: new Date('2026-11-01T00:01:00Z'),
  finishedAt: null,
  ...over,
});

describe('backfill pieces', () => {
  it('parses the CLI arguments and names what is wrong', () => {
    expect(
      parseBackfillArgs(['--tenant', 'org', '--since', '2026-10-01', '--until', '2026-11-01T12:00:00Z']),
    ).toEqual({
      tenant: 'org',
      since: new Date('2026-10-01T00:00:00Z'),
      until: new Date('2026-11-01T12:00:00Z'),
      restart: false,
    });
    expect(parseBackfillArgs(['--since', '2026-10-01'])).toMatch(/--tenant/);
    expect(parseBackfillArgs(['--tenant', 'o', '--since', 'yesterday'])).toMatch(
      /--since must be an ISO 8601/,
    );
    expect(parseBackfillArgs(['--tenant', 'o', '--since', '2026-11-02', '--until', '2026-11-01'])).toMatch(
      /before/,
    );
    expect(parseBackfillArgs(['--tenant', 'o', '--fast'])).toMatch(/unknown/);
  });

  it('draws progress with the found_chats estimate, the rate and the ETA', () => {
    const line = progressLine(
      { walk: walk(), pages: 3, threads: 300, written: 300, restricted: 0, foundChats: 1200 },
      0,
      1000,
    );
    expect(line).toBe('[#####---------------] 300 / ~1,200 threads · 3 pages · 300 threads/s · ETA 3.0s');
    // found_chats is an estimate: fewer than read already never shows as over 100%
    expect(
      progressLine(
        { walk: walk(), pages: 3, threads: 300, written: 0, restricted: 0, foundChats: 10 },
        0,
        1000,
      ),
    ).toMatch(/^\[#{20}\] 300 \/ ~300 threads/);
  });

  it('knows which scopes read chats', () => {
    expect(canReadChats('webhooks.configuration:rw,chats--all:ro')).toBe(true);
    expect(canReadChats('chats--access:rw customers:ro')).toBe(true);
    expect(canReadChats('webhooks.configuration:rw,webhooks.state:rw')).toBe(false);
    expect(canReadChats('chats--my:ro')).toBe(false);
  });

  it('fingerprints a thread by its content, not by who is present', () => {
    const row = {
      id: 'C',
      users: [{ id: 'a', present: true }],
      thread: {
        id: 'T',
        created_at: '2026-11-01T00:00:00.000000Z',
        active: true,
        events: [{ id: 'E1', type: 'message', text: 'hi' }],
      },
    };
    const same = threadFingerprint({ ...row, users: [{ id: 'a', present: false }], is_followed: true });
    expect(threadFingerprint(row)).toBe(same);
    expect(threadFingerprint({ ...row, thread: { ...row.thread, active: false } })).not.toBe(same);
    expect(threadFingerprint({ ...row, thread: { ...row.thread, tags: ['vip'] } })).not.toBe(same);
  });

  it('tells the settings page how the backfill stands', () => {
    expect(backfillState(walk(), 30, true)).toMatch(/^in progress: 300 threads of about 1200 \(25%\)/);
    expect(
      backfillState(walk({ status: 'done', finishedAt: new Date('2026-11-01T00:02:00Z') }), 30, true),
    ).toMatch(/^done 2026-11-01 00:02:00 UTC: 300 threads/);
    expect(
      backfillState(
        walk({
          status: 'failed',
          errorCode: 'AGENT_API_AUTHORIZATION',
          errorMessage: 'no scope',
          finishedAt: new Date(),
        }),
        30,
        true,
      ),
    ).toMatch(/^failed .* \(AGENT_API_AUTHORIZATION\): no scope/);
    expect(backfillState(null, 0, true)).toMatch(/^off/);
    expect(backfillState(null, 30, false)).toMatch(/^not possible/);
  });
});
