/**
 * `npm start -- --demo`, second part: simulated traffic with what the reports need (ratings, queues, transfers,
 * greetings, resumed chats, agents' routing statuses), then a few rows of each analytics view.
 */
import pg from 'pg';
import { simulateTraffic } from '@livechat-pipeline/traffic-simulator';
import { printTable, type DemoOptions } from './demo.js';

export async function runAnalyticsDemo(
  options: Omit<DemoOptions, 'schema'> & { schema: string },
): Promise<void> {
  const seed = (Date.now() + 7) % 1_000_000;
  const startAt = new Date(Date.now() - 60 * 60_000);
  const v3 = simulateTraffic({
    seed,
    chats: 12,
    format: 'v3',
    secretKey: options.secretKey,
    startAt,
    reportFacts: true,
  });
  const v2 = simulateTraffic({ seed: seed + 1, chats: 6, format: 'v2', startAt, reportFacts: true });
  const deliveries = [...v3.deliveries, ...v2.deliveries];
  const basic = `Basic ${Buffer.from(options.basicAuth).toString('base64')}`;
  options.say(
    `demo: posting ${deliveries.length} webhooks with ratings, queues, transfers and agent statuses…`,
  );
  for (const delivery of deliveries) {
    const response = await fetch(`${options.ingestUrl}/webhooks/livechat`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(delivery.format === 'v2' ? { authorization: basic } : {}),
      },
      body: JSON.stringify(delivery.body),
    });
    await response.arrayBuffer();
  }
  const expected = [...v3.expectedThreads, ...v2.expectedThreads];
  const tenants = [...new Set(expected.map((f) => f.tenant))];
  const messages = expected.reduce((n, f) => n + f.customerMessages + f.agentMessages, 0);
  const client = new pg.Client({ connectionString: options.databaseUrl });
  await client.connect();
  try {
    const s = `"${options.schema}"`;
    const deadline = Date.now() + 60_000;
    let seen = { threads: 0, messages: 0 };
    while (Date.now() < deadline) {
      const { rows } = await client
        .query<{ threads: number; messages: number }>(
          `select count(*)::int as threads, coalesce(sum(customer_messages + agent_messages), 0)::int as messages
           from ${s}.thread_facts where tenant = any($1) and closed`,
          [tenants],
        )
        .catch(() => ({ rows: [{ threads: 0, messages: 0 }] }));
      seen = rows[0] ?? seen;
      if (seen.threads >= expected.length && seen.messages >= messages) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    options.say(`demo: ${seen.threads} of ${expected.length} threads are in ${options.schema}.thread_facts`);
    const views: [string, string][] = [
      [
        'thread_facts',
        `select chat_id, thread_id, started_at, duration_seconds::int as duration_s,
                round(first_response_seconds, 1) as frt_s, customer_messages as cust, agent_messages as agent,
                rating, queued, round(queued_seconds, 1) as queued_s, left_queue, started_by, transfers
         from ${s}.thread_facts where tenant = any($1) order by started_at limit 10`,
      ],
      [
        'daily',
        `select tenant, day::text, group_id, chats, chats_with_reply, round(avg_first_response_seconds::numeric, 1) as avg_frt,
                round(p90_first_response_seconds::numeric, 1) as p90_frt, round(avg_duration_seconds::numeric) as avg_duration,
                rated_good, rated_bad, queued, left_queue
         from ${s}.daily where tenant = any($1) order by tenant, day, group_id`,
      ],
      [
        'hourly',
        `select tenant, to_char(hour, 'YYYY-MM-DD HH24:00') as hour, group_id, chats, round(avg_first_response_seconds::numeric, 1) as avg_frt, rated_good, rated_bad
         from ${s}.hourly where tenant = any($1) order by tenant, hour, group_id`,
      ],
      [
        'agent_daily',
        `select tenant, day::text, agent_id, chats, first_responses, round(avg_first_response_seconds::numeric, 1) as avg_frt,
                round(avg_response_seconds::numeric, 1) as avg_response, rated_good, rated_bad
         from ${s}.agent_daily where tenant = any($1) order by tenant, day, agent_id`,
      ],
      [
        'agent_ranking',
        `select tenant, agent_id, good, bad, total, round(score::numeric, 4) as score
         from ${s}.agent_ranking where tenant = any($1) order by tenant, score desc`,
      ],
      [
        'tag_daily',
        `select tenant, day::text, tag, chats from ${s}.tag_daily where tenant = any($1) order by tenant, day, tag`,
      ],
      [
        'agent_availability',
        `select tenant, day::text, agent_id, round(accepting_chats_seconds::numeric, 3) as accepting_s,
                round(not_accepting_chats_seconds::numeric, 3) as not_accepting_s
         from ${s}.agent_availability where tenant = any($1) order by tenant, day, agent_id`,
      ],
    ];
    for (const [view, sql] of views) {
      const { rows } = await client.query(sql, [tenants]);
      printTable(`select … from ${options.schema}.${view}`, rows);
    }
  } finally {
    await client.end();
  }
}
