import type { RemoteWebhook } from '../livechat/configuration-api.js';
import type { DesiredWebhook } from './desired.js';

/**
 * The webhook sync's decisions, without I/O: given LiveChat's list of our license webhooks, the registry's live
 * registrations and the declared configuration, which webhooks to keep, register, unregister and forget, in the
 * order to carry them out. sync.ts lists, applies the steps and lists again until nothing is left to do.
 */

/** LiveChat accepts at most this many webhooks per action and client id. */
export const LIMIT_PER_ACTION = 3;

export type PlanStep =
  | {
      readonly op: 'register';
      readonly action: string;
      readonly desired: DesiredWebhook;
      readonly reason: string;
    }
  | {
      readonly op: 'unregister';
      readonly action: string;
      readonly id: string;
      /** The registry knows its secret: it stays accepted ("retiring") for the overlap before it is forgotten. */
      readonly known: boolean;
      readonly reason: string;
      /** Taken before the action's register step, to free a slot under `LIMIT_PER_ACTION`. */
      readonly beforeRegister: boolean;
    }
  | { readonly op: 'forget'; readonly action: string; readonly id: string; readonly reason: string };

export interface WebhookPlanInput {
  /** LiveChat's list of our client id's webhooks. */
  readonly remote: readonly RemoteWebhook[];
  /** The registry's live registrations (secrets it knows) for our client id. */
  readonly live: ReadonlyArray<{ readonly id: string; readonly action: string }>;
  readonly desired: readonly DesiredWebhook[];
  /** The URL our webhooks must point at. */
  readonly webhookUrl: string;
}

export interface WebhookPlan {
  /** The webhooks that already satisfy their configuration entry, one per action at most: left as they are. */
  readonly keep: ReadonlyArray<{ readonly action: string; readonly id: string }>;
  /** What to change, in order: per action (sorted), register before unregister unless the limit needs a slot first; then forgets. */
  readonly steps: readonly PlanStep[];
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * A remote webhook satisfies an entry only when it is a license webhook with the entry's action, our URL, and the
 * same description, filters (key order aside) and additional_data (order aside).
 */
export function matchesDesired(remote: RemoteWebhook, desired: DesiredWebhook, webhookUrl: string): boolean {
  return (
    remote.type === 'license' &&
    remote.action === desired.action &&
    remote.url === webhookUrl &&
    remote.description === desired.description &&
    canonical(remote.filters) === canonical(desired.filters) &&
    canonical([...remote.additional_data].sort()) === canonical([...desired.additional_data].sort())
  );
}

/**
 * The steps that bring LiveChat in line. Per action: keep the first (by id) webhook that matches its entry and
 * whose secret the registry knows; everything else of ours is stale. A missing webhook is registered before stale
 * ones are unregistered, except that when the action already has `LIMIT_PER_ACTION`, just enough stale ones
 * (unknown secrets first) are unregistered before. Registrations LiveChat no longer lists are forgotten.
 */
export function planWebhooks({ remote, live, desired: entries, webhookUrl }: WebhookPlanInput): WebhookPlan {
  const known = new Set(live.map((r) => r.id));
  const remoteIds = new Set(remote.map((r) => r.id));
  const keepList: Array<{ action: string; id: string }> = [];
  const steps: PlanStep[] = [];
  const actions = new Set([...remote.map((r) => r.action), ...entries.map((d) => d.action)]);
  for (const action of [...actions].sort()) {
    const mine = remote.filter((r) => r.action === action).sort((a, b) => (a.id < b.id ? -1 : 1));
    const desired = entries.find((d) => d.action === action);
    const keep =
      desired === undefined
        ? undefined
        : mine.find((r) => known.has(r.id) && matchesDesired(r, desired, webhookUrl));
    if (keep !== undefined) keepList.push({ action, id: keep.id });
    const stale = mine.filter((r) => r !== keep);
    const reasonOf = (r: RemoteWebhook) =>
      desired === undefined
        ? 'action not in config'
        : !known.has(r.id)
          ? 'secret unknown to the registry'
          : r.url !== webhookUrl
            ? 'points elsewhere'
            : keep !== undefined
              ? 'duplicate'
              : 'definition changed';
    const unregister = (r: RemoteWebhook, beforeRegister: boolean): PlanStep => ({
      op: 'unregister',
      action,
      id: r.id,
      known: known.has(r.id),
      reason: reasonOf(r),
      beforeRegister,
    });
    if (desired !== undefined && keep === undefined) {
      // Free a slot first only when LiveChat's limit leaves no room; prefer dropping unknown ones.
      const room = LIMIT_PER_ACTION - mine.length;
      const freeFirst =
        room > 0
          ? []
          : [...stale].sort((a, b) => Number(known.has(a.id)) - Number(known.has(b.id))).slice(0, 1 - room);
      for (const r of freeFirst) steps.push(unregister(r, true));
      steps.push({
        op: 'register',
        action,
        desired,
        reason: mine.length === 0 ? 'missing' : 'replaces stale',
      });
      for (const r of stale) if (!freeFirst.includes(r)) steps.push(unregister(r, false));
    } else {
      for (const r of stale) steps.push(unregister(r, false));
    }
  }
  for (const r of live) {
    if (!remoteIds.has(r.id))
      steps.push({ op: 'forget', action: r.action, id: r.id, reason: 'no longer at LiveChat' });
  }
  return { keep: keepList, steps };
}
