import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AppError } from '../errors.js';

/** One entry of config/livechat-webhooks.json: what the product needs LiveChat to send. */
export interface DesiredWebhook {
  readonly action: string;
  readonly description: string;
  readonly filters: Readonly<Record<string, unknown>>;
  readonly additional_data: readonly string[];
}

const fileSchema = z.object({
  $comment: z.string().optional(),
  webhooks: z
    .array(
      z
        .object({
          action: z.string().regex(/^[a-z_]{1,64}$/, 'must be a LiveChat action name'),
          description: z.string().max(200).default(''),
          filters: z.record(z.string(), z.unknown()).default({}),
          additional_data: z.array(z.enum(['chat_properties', 'chat_presence_user_ids'])).default([]),
        })
        .strict(),
    )
    .min(1, 'needs at least one webhook'),
});

/** Parses and checks the declarative list (one entry per action). */
export function parseDesiredWebhooks(json: unknown, source = 'livechat-webhooks.json'): DesiredWebhook[] {
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new AppError('APP_WEBHOOKS_FILE_INVALID', `${source} is invalid: ${where}`);
  }
  const seen = new Set<string>();
  for (const w of parsed.data.webhooks) {
    if (seen.has(w.action))
      throw new AppError(
        'APP_WEBHOOKS_FILE_INVALID',
        `${source}: action ${w.action} is listed twice (one entry per action)`,
      );
    seen.add(w.action);
  }
  return parsed.data.webhooks.map((w) => ({
    action: w.action,
    description: w.description,
    filters: w.filters,
    additional_data: [...w.additional_data].sort(),
  }));
}

export function loadDesiredWebhooks(file: string): DesiredWebhook[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new AppError(
      'APP_WEBHOOKS_FILE_INVALID',
      `${file} ${err instanceof SyntaxError ? 'is not valid JSON' : 'cannot be read'}`,
      { cause: err },
    );
  }
  return parseDesiredWebhooks(json, file);
}
