import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_RETIRING_SECONDS, hashWebhookSecret } from '@livechat-pipeline/tenant-registry';
import type { TenantRegistry, WebhookRegistration } from '@livechat-pipeline/tenant-registry';
import type pg from 'pg';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import type { ConfigurationApi, RemoteWebhook } from '../livechat/configuration-api.js';
import type { DesiredWebhook } from './desired.js';
import { withAdvisoryLock } from './lock.js';
import { matchesDesired, planWebhooks, type PlanStep } from './plan.js';

export { LIMIT_PER_ACTION, type PlanStep } from './plan.js';

/**
 * How long a secret set "retiring" stays accepted if the process dies before it marks it deleted: the registry's
 * default (10 min), or longer when the overlap asks for it (twice the overlap, as in a rotation, plus a minute).
 */
export function retiringPeriodMs(overlapMs = 0): number {
  return Math.max(DEFAULT_RETIRING_SECONDS * 1000, 2 * overlapMs + 60_000);
}

export interface SyncReport {
  readonly rounds: number;
  readonly registered: ReadonlyArray<{ id: string; action: string }>;
  readonly unregistered: ReadonlyArray<{ id: string; action: string; reason: string }>;
  readonly forgotten: ReadonlyArray<{ id: string; action: string }>;
  /** The steps a dry run would take (empty after a real run that converged). */
  readonly plan: readonly PlanStep[];
  readonly changed: boolean;
  /** With `lock: 'try'`: another sync of this client id held the lock, so this one did nothing. */
  readonly skipped?: boolean;
}

/** A webhook as shown to operators: LiveChat's view joined with what the registry knows. */
export interface WebhookRow {
  readonly id: string;
  readonly action: string;
  readonly url: string;
  readonly secretKnown: boolean;
  readonly status: string;
  readonly since: Date | null;
  readonly matchesConfig: boolean;
}

export type RotationPhase = 'new-registered' | 'old-unregistered';

/**
 * Makes LiveChat's license webhooks for our client id match config/livechat-webhooks.json, idempotently.
 * A remote webhook satisfies an entry only when its URL, action, description, filters and additional_data
 * match AND the registry knows its secret (so the ingest can verify it); anything else of ours is stale.
 * What to do is decided by the pure planner (plan.ts); this class lists, carries the steps out under the client
 * id's advisory lock (lock.ts), and lists again until nothing is left (the API client retries each call).
 * Removed webhooks the registry knew stay accepted ("retiring") for `overlapMs`, covering LiveChat's
 * up-to-2-minute propagation delay.
 */
export class WebhookSync {
  constructor(
    private readonly deps: {
      readonly api: ConfigurationApi;
      readonly registry: TenantRegistry;
      readonly pool: pg.Pool;
      readonly desired: readonly DesiredWebhook[];
      readonly webhookUrl: string;
      readonly logger: Logger;
    },
  ) {}

  private matches(remote: RemoteWebhook, desired: DesiredWebhook): boolean {
    return matchesDesired(remote, desired, this.deps.webhookUrl);
  }

  /** The steps that would bring LiveChat in line, given its list and the registry's live rows (see `planWebhooks`). */
  planFrom(remote: readonly RemoteWebhook[], live: readonly WebhookRegistration[]): PlanStep[] {
    return [
      ...planWebhooks({ remote, live, desired: this.deps.desired, webhookUrl: this.deps.webhookUrl }).steps,
    ];
  }

  /** One list + plan. */
  async plan(): Promise<PlanStep[]> {
    const [remote, live] = await Promise.all([
      this.deps.api.listWebhooks(),
      this.deps.registry.liveRegistrations(this.deps.api.ownerClientId),
    ]);
    return this.planFrom(remote, live);
  }

  /** Plans and applies until a fresh list needs no change (at most `maxRounds`), under a Postgres advisory lock. */
  async sync(
    options: {
      dryRun?: boolean;
      overlapMs?: number;
      maxRounds?: number;
      /**
       * 'wait' (default): queue behind a running sync of this client id. 'try': when one is running, return at
       * once with `skipped` (it converges to the same configuration), never holding a connection while waiting.
       */
      lock?: 'wait' | 'try';
    } = {},
  ): Promise<SyncReport> {
    if (options.dryRun === true) {
      const plan = await this.plan();
      return { rounds: 0, registered: [], unregistered: [], forgotten: [], plan, changed: false };
    }
    const skipped: SyncReport = {
      rounds: 0,
      registered: [],
      unregistered: [],
      forgotten: [],
      plan: [],
      changed: false,
      skipped: true,
    };
    return this.locked(options.lock ?? 'wait', skipped, async () => {
      const registered: Array<{ id: string; action: string }> = [];
      const unregistered: Array<{ id: string; action: string; reason: string }> = [];
      const forgotten: Array<{ id: string; action: string }> = [];
      const retiring: string[] = [];
      const maxRounds = options.maxRounds ?? 4;
      let rounds = 0;
      let plan: PlanStep[] = [];
      for (;;) {
        plan = await this.plan();
        if (plan.length === 0 || rounds >= maxRounds) break;
        rounds += 1;
        for (const step of plan)
          await this.apply(step, options.overlapMs, { registered, unregistered, forgotten, retiring });
      }
      if (retiring.length > 0) {
        if ((options.overlapMs ?? 0) > 0) {
          this.deps.logger.info(
            { retiring: retiring.length, overlapMs: options.overlapMs },
            'old webhook secrets stay accepted during the overlap',
          );
          await sleep(options.overlapMs);
        }
        for (const id of retiring) await this.deps.registry.setRegistrationStatus(id, 'deleted');
      }
      const changed = registered.length + unregistered.length + forgotten.length > 0;
      this.deps.logger.info(
        {
          rounds,
          registered: registered.length,
          unregistered: unregistered.length,
          forgotten: forgotten.length,
          pending: plan.length,
        },
        'webhook sync done',
      );
      if (plan.length > 0)
        throw new AppError(
          'APP_LIVECHAT_UNAVAILABLE',
          `webhook sync did not converge after ${rounds} rounds (${plan.length} steps left)`,
        );
      return { rounds, registered, unregistered, forgotten, plan, changed };
    });
  }

  /**
   * New secrets for every configured webhook: register the new one, keep both accepted while LiveChat
   * propagates (`wait('new-registered')`), unregister the old one, keep its secret accepted while in-flight
   * deliveries drain (`wait('old-unregistered')`), then forget the old secret. `overlapMs` is how long each
   * wait lasts: the old secret expires on its own after `retiringPeriodMs(overlapMs)` should this never finish.
   */
  async rotateSecrets(
    wait: (phase: RotationPhase) => Promise<void>,
    options: { overlapMs?: number } = {},
  ): Promise<{ rotated: Array<{ action: string; oldId: string; newId: string }> }> {
    return this.locked('wait', { rotated: [] }, async () => {
      const remote = await this.deps.api.listWebhooks();
      const live = await this.deps.registry.liveRegistrations(this.deps.api.ownerClientId);
      const known = new Set(live.map((r) => r.id));
      const pairs: Array<{ action: string; oldId: string; newId: string }> = [];
      for (const desired of this.deps.desired) {
        const current = remote.find((r) => known.has(r.id) && this.matches(r, desired));
        if (current === undefined) continue; // sync registers it; nothing to rotate
        const newId = await this.register(desired);
        await this.deps.registry.setRegistrationStatus(current.id, 'retiring', {
          retiringForMs: retiringPeriodMs(options.overlapMs),
        });
        pairs.push({ action: desired.action, oldId: current.id, newId });
      }
      this.deps.logger.info(
        { rotated: pairs.length },
        'new webhook secrets registered; old and new are accepted',
      );
      await wait('new-registered');
      for (const p of pairs) await this.unregisterRemote(p.oldId);
      await wait('old-unregistered');
      for (const p of pairs) await this.deps.registry.setRegistrationStatus(p.oldId, 'deleted');
      this.deps.logger.info({ rotated: pairs.length }, 'old webhook secrets forgotten');
      return { rotated: pairs };
    });
  }

  /** Removes one webhook at LiveChat and forgets its secret. */
  async unregister(id: string): Promise<void> {
    await this.unregisterRemote(id);
    if ((await this.deps.registry.getRegistration(id)) !== null)
      await this.deps.registry.setRegistrationStatus(id, 'deleted');
  }

  /** LiveChat's list joined with the registry. */
  async list(): Promise<WebhookRow[]> {
    const [remote, live] = await Promise.all([
      this.deps.api.listWebhooks(),
      this.deps.registry.liveRegistrations(this.deps.api.ownerClientId),
    ]);
    const byId = new Map(live.map((r) => [r.id, r]));
    return remote.map((r) => {
      const row = byId.get(r.id);
      const desired = this.deps.desired.find((d) => d.action === r.action);
      return {
        id: r.id,
        action: r.action,
        url: r.url,
        secretKnown: row !== undefined,
        status: row?.status ?? 'unknown',
        since: row?.createdAt ?? null,
        matchesConfig: desired !== undefined && this.matches(r, desired),
      };
    });
  }

  /** Carries out one step, recording what it did. */
  private async apply(
    step: PlanStep,
    overlapMs: number | undefined,
    done: {
      registered: Array<{ id: string; action: string }>;
      unregistered: Array<{ id: string; action: string; reason: string }>;
      forgotten: Array<{ id: string; action: string }>;
      retiring: string[];
    },
  ): Promise<void> {
    if (step.op === 'register') {
      done.registered.push({ id: await this.register(step.desired), action: step.action });
    } else if (step.op === 'unregister') {
      if (step.known) {
        await this.deps.registry.setRegistrationStatus(step.id, 'retiring', {
          retiringForMs: retiringPeriodMs(overlapMs),
        });
        done.retiring.push(step.id);
      }
      await this.unregisterRemote(step.id);
      done.unregistered.push({ id: step.id, action: step.action, reason: step.reason });
    } else {
      await this.deps.registry.setRegistrationStatus(step.id, 'deleted');
      done.forgotten.push({ id: step.id, action: step.action });
    }
  }

  private async register(desired: DesiredWebhook): Promise<string> {
    const secret = randomBytes(32).toString('base64url');
    const id = await this.deps.api.registerWebhook({
      action: desired.action,
      secretKey: secret,
      url: this.deps.webhookUrl,
      description: desired.description,
      filters: desired.filters,
      additionalData: desired.additional_data,
    });
    await this.deps.registry.addRegistration({
      id,
      ownerClientId: this.deps.api.ownerClientId,
      action: desired.action,
      url: this.deps.webhookUrl,
      secretHash: hashWebhookSecret(secret),
      definition: {
        description: desired.description,
        filters: desired.filters,
        additional_data: desired.additional_data,
      },
    });
    this.deps.logger.info({ webhook_id: id, action: desired.action }, 'webhook registered');
    return id;
  }

  private async unregisterRemote(id: string): Promise<void> {
    try {
      await this.deps.api.unregisterWebhook(id);
    } catch (err) {
      // Already gone (e.g. a retried call that had succeeded): the goal is reached.
      if (err instanceof AppError && err.code === 'APP_LIVECHAT_REJECTED' && err.details['status'] === 404)
        return;
      throw err;
    }
    this.deps.logger.info({ webhook_id: id }, 'webhook unregistered');
  }

  /** Runs `fn` under the client id's advisory lock; 'try' answers `whenBusy` at once when another session holds it. */
  private locked<T>(mode: 'wait' | 'try', whenBusy: T, fn: () => Promise<T>): Promise<T> {
    return withAdvisoryLock(
      this.deps.pool,
      `webhook-sync:${this.deps.api.ownerClientId}`,
      mode,
      whenBusy,
      fn,
    );
  }
}
