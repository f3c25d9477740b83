/**
 * The dashboard in the browser: reads the filters from the address, loads the tenant's numbers from the api
 * (`/v1/...`, authenticated by the HttpOnly session cookie; this script never sees a key), and draws them. Every
 * chart has its numbers in a table beside it (for screen readers, keyboards and tests).
 */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from 'chart.js';
import type { ChartConfiguration } from 'chart.js';
import {
  WEEKDAYS,
  addDays,
  chatsQuery,
  cursorFor,
  dayInZone,
  analyticsQuery,
  fillDays,
  filtersToSearch,
  formatPercent,
  formatSeconds,
  formatTime,
  groupsOfChats,
  heatLevel,
  validTimeZone,
  parseFilters,
  rankAgents,
  readAgents,
  readChat,
  readChats,
  readDaily,
  readGroups,
  readHourly,
  readPeriodTotals,
  readTags,
  totals,
  weekHeatmap,
} from '../src/view-model.js';
import type { ChatPageState, ChatSummary, DailyRow, Filters, GroupOption } from '../src/view-model.js';

Chart.register(
  BarController,
  BarElement,
  CategoryScale,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
);

const COLORS = { blue: '#1f5fbf', orange: '#c2571a', green: '#2e7d32', red: '#c62828', grey: '#6b7280' };

class SignedOut extends Error {}
/** The api answered 503 (its database, for a moment): the session is fine, the page retries. */
class Unavailable extends Error {}
/** A load overtaken by a newer one: its answers are dropped, not shown. */
class Superseded extends Error {}

async function getJson(path: string, signal?: AbortSignal): Promise<unknown> {
  const response = await fetch(path, {
    headers: { accept: 'application/json' },
    credentials: 'same-origin',
    ...(signal === undefined ? {} : { signal }),
  });
  if (response.status === 401) throw new SignedOut('signed out');
  if (response.status === 503) throw new Unavailable('unavailable');
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const message =
      typeof body === 'object' && body !== null && typeof (body as { message?: unknown }).message === 'string'
        ? (body as { message: string }).message
        : `HTTP ${response.status}`;
    throw new Error(`${path.split('?')[0]}: ${message}`);
  }
  return body;
}

type Child = Node | string | null;
function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) if (c !== null) node.append(c);
  return node;
}

const byId = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`#${id} is missing from the page`);
  return node as T;
};

/** A data table; `rows` hold cell texts (numbers right-aligned). */
function table(
  id: string,
  caption: string,
  headers: readonly string[],
  rows: readonly Child[][],
): HTMLTableElement {
  const t = el('table', { id }, el('caption', {}, caption));
  t.append(el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', { scope: 'col' }, h)))));
  const body = el('tbody');
  for (const row of rows) {
    body.append(
      el(
        'tr',
        {},
        ...row.map((cell, i) =>
          i === 0
            ? el('th', { scope: 'row' }, cell)
            : el('td', { class: typeof cell === 'string' && /^[\d.,]/.test(cell) ? 'n' : '' }, cell),
        ),
      ),
    );
  }
  t.append(body);
  return t;
}

function put(containerId: string, ...nodes: Node[]): void {
  byId(containerId).replaceChildren(...nodes);
}

const charts = new Map<string, Chart>();
function draw(id: string, config: ChartConfiguration): void {
  charts.get(id)?.destroy();
  const canvas = byId<HTMLCanvasElement>(`${id}-canvas`);
  const base = config.options ?? {};
  charts.set(
    id,
    new Chart(canvas, {
      ...config,
      options: { responsive: true, maintainAspectRatio: false, animation: false, ...base },
    } as ChartConfiguration),
  );
}

const seconds = (v: number | null) => (v === null ? null : Math.round(v));
const n = (v: number) => v.toLocaleString('en-US');

function renderKpis(rows: readonly DailyRow[], period: Omit<DailyRow, 'day'> | null): void {
  const t = totals(rows);
  const answered = rows.reduce((s, r) => s + (r.chatsWithReply ?? 0), 0);
  const items: [string, string, string][] = [
    ['kpi-chats', 'Chats', n(t.chats)],
    ['kpi-answered', 'Answered', n(answered)],
    ['kpi-frt-median', 'First response, median', formatSeconds(period?.medianFirstResponse ?? null)],
    ['kpi-frt-p90', 'First response, p90', formatSeconds(period?.p90FirstResponse ?? null)],
    ['kpi-duration', 'Duration, median', formatSeconds(period?.medianDuration ?? null)],
    ['kpi-good-share', 'Good ratings', formatPercent(t.goodShare)],
    ['kpi-queued', 'Queued', n(t.queued)],
    ['kpi-abandonment', 'Left the queue', formatPercent(t.abandonment)],
    ['kpi-queue-wait', 'Queue wait, median', formatSeconds(period?.medianQueueWait ?? null)],
  ];
  put(
    'kpi-list',
    ...items.map(([id, label, value]) =>
      el('div', { class: 'kpi' }, el('dt', {}, label), el('dd', { id }, value)),
    ),
  );
}

function renderDaily(rows: readonly DailyRow[]): void {
  const labels = rows.map((r) => r.day);
  draw('daily', {
    type: 'bar',
    data: {
      labels,
      datasets: [{ label: 'Chats', data: rows.map((r) => r.chats), backgroundColor: COLORS.blue }],
    },
    options: {
      plugins: { legend: { display: false } },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
  put(
    'daily-table',
    table(
      'daily-data',
      'Chats per day',
      ['Day', 'Chats', 'Answered'],
      rows.map((r) => [r.day, n(r.chats), r.chatsWithReply === null ? '—' : n(r.chatsWithReply)]),
    ),
  );

  draw('response', {
    type: 'line',
    data: {
      labels,
      datasets: [
        {
          label: 'Median (s)',
          data: rows.map((r) => seconds(r.medianFirstResponse)),
          borderColor: COLORS.blue,
          backgroundColor: COLORS.blue,
          spanGaps: true,
        },
        {
          label: '90th percentile (s)',
          data: rows.map((r) => seconds(r.p90FirstResponse)),
          borderColor: COLORS.orange,
          backgroundColor: COLORS.orange,
          spanGaps: true,
          borderDash: [6, 3],
        },
      ],
    },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'seconds' } } } },
  });
  put(
    'response-table',
    table(
      'response-data',
      'First response time per day',
      ['Day', 'Median', '90th percentile'],
      rows.map((r) => [r.day, formatSeconds(r.medianFirstResponse), formatSeconds(r.p90FirstResponse)]),
    ),
  );

  draw('duration', {
    type: 'line',
    data: {
      labels,
      datasets: [
        {
          label: 'Median (min)',
          data: rows.map((r) => (r.medianDuration === null ? null : Math.round(r.medianDuration / 6) / 10)),
          borderColor: COLORS.green,
          backgroundColor: COLORS.green,
          spanGaps: true,
        },
        {
          label: 'Average (min)',
          data: rows.map((r) => (r.avgDuration === null ? null : Math.round(r.avgDuration / 6) / 10)),
          borderColor: COLORS.grey,
          backgroundColor: COLORS.grey,
          spanGaps: true,
          borderDash: [6, 3],
        },
      ],
    },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'minutes' } } } },
  });
  put(
    'duration-table',
    table(
      'duration-data',
      'Chat duration per day',
      ['Day', 'Median', 'Average'],
      rows.map((r) => [r.day, formatSeconds(r.medianDuration), formatSeconds(r.avgDuration)]),
    ),
  );

  const t = totals(rows);
  byId('ratings-share').textContent =
    t.goodShare === null
      ? 'No ratings in this range.'
      : `${formatPercent(t.goodShare)} good (${n(t.ratedGood)} good, ${n(t.ratedBad)} bad)`;
  draw('ratings', {
    type: 'bar',
    data: {
      labels,
      datasets: [
        { label: 'Good', data: rows.map((r) => r.ratedGood), backgroundColor: COLORS.green },
        { label: 'Bad', data: rows.map((r) => r.ratedBad), backgroundColor: COLORS.red },
      ],
    },
    options: {
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
  put(
    'ratings-table',
    table(
      'ratings-data',
      'Ratings per day',
      ['Day', 'Good', 'Bad', 'Good share'],
      rows.map((r) => [
        r.day,
        n(r.ratedGood),
        n(r.ratedBad),
        formatPercent(
          r.ratedGood + r.ratedBad > 0
            ? Math.round((1000 * r.ratedGood) / (r.ratedGood + r.ratedBad)) / 10
            : null,
        ),
      ]),
    ),
  );

  byId('queue-summary').textContent =
    t.queued === 0
      ? 'Nobody waited in a queue in this range.'
      : `${n(t.queued)} queued, ${n(t.leftQueue)} left before an agent came (${formatPercent(t.abandonment)})`;
  draw('queue', {
    type: 'bar',
    data: {
      labels,
      datasets: [
        { label: 'Queued', data: rows.map((r) => r.queued), backgroundColor: COLORS.blue, yAxisID: 'y' },
        {
          label: 'Left the queue',
          data: rows.map((r) => r.leftQueue),
          backgroundColor: COLORS.red,
          yAxisID: 'y',
        },
        {
          type: 'line',
          label: 'Median wait (s)',
          data: rows.map((r) => seconds(r.medianQueueWait)),
          borderColor: COLORS.orange,
          backgroundColor: COLORS.orange,
          yAxisID: 'wait',
          spanGaps: true,
        },
      ],
    },
    options: {
      scales: {
        y: { beginAtZero: true, ticks: { precision: 0 }, position: 'left' },
        wait: {
          beginAtZero: true,
          position: 'right',
          grid: { drawOnChartArea: false },
          title: { display: true, text: 'seconds' },
        },
      },
    },
  });
  put(
    'queue-table',
    table(
      'queue-data',
      'Queue per day',
      ['Day', 'Queued', 'Left the queue', 'Median wait'],
      rows.map((r) => [r.day, n(r.queued), n(r.leftQueue), formatSeconds(r.medianQueueWait)]),
    ),
  );
}

function renderHeatmap(grid: number[][]): void {
  const max = Math.max(0, ...grid.flat());
  const t = el(
    'table',
    { id: 'heatmap-data', class: 'heatmap' },
    el('caption', {}, 'Chats per weekday and local hour'),
  );
  t.append(
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        el('th', { scope: 'col' }, 'Day'),
        ...Array.from({ length: 24 }, (_, h) => el('th', { scope: 'col' }, String(h).padStart(2, '0'))),
      ),
    ),
  );
  const body = el('tbody');
  grid.forEach((hours, d) => {
    body.append(
      el(
        'tr',
        {},
        el('th', { scope: 'row' }, WEEKDAYS[d]!),
        ...hours.map((v, h) =>
          el(
            'td',
            {
              class: `h${heatLevel(v, max)}`,
              'data-day': WEEKDAYS[d]!,
              'data-hour': String(h),
              title: `${WEEKDAYS[d]} ${String(h).padStart(2, '0')}:00 — ${v} chats`,
            },
            String(v),
          ),
        ),
      ),
    );
  });
  t.append(body);
  put('heatmap-table', t);
}

function renderAgents(body: unknown): void {
  const rows = rankAgents(readAgents(body));
  if (rows.length === 0) return put('agents-table', el('p', {}, 'No agent wrote in a chat in this range.'));
  put(
    'agents-table',
    table(
      'agents-data',
      'Agents, ranked',
      ['Agent', 'Rank', 'Chats', 'First responses', 'Median first response', 'Good', 'Bad', 'Score'],
      rows.map((r) => [
        r.name !== null && r.name !== '' ? `${r.name} (${r.agentId})` : r.agentId,
        String(r.rank),
        n(r.chats),
        r.firstResponses === null ? '—' : n(r.firstResponses),
        formatSeconds(r.medianFirstResponse),
        n(r.ratedGood),
        n(r.ratedBad),
        r.score === null ? '—' : r.score.toFixed(3),
      ]),
    ),
  );
}

function renderTags(body: unknown): void {
  const rows = readTags(body);
  draw('tags', {
    type: 'bar',
    data: {
      labels: rows.map((r) => r.tag),
      datasets: [{ label: 'Chats', data: rows.map((r) => r.chats), backgroundColor: COLORS.blue }],
    },
    options: {
      indexAxis: 'y',
      plugins: { legend: { display: false } },
      scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
  put(
    'tags-table',
    table(
      'tags-data',
      'Chats per tag',
      ['Tag', 'Chats'],
      rows.map((r) => [r.tag, n(r.chats)]),
    ),
  );
}

// ------------------------------------------------------------------------------------------------ chats

/** The tenant's time zone (the page names it): its days are the filters', the presets' and the chat list's. */
const timeZone = validTimeZone(document.getElementById('tenant')?.dataset['timeZone']);
const today = (): string => dayInZone(Date.now(), timeZone);

/** The chat list's next page: its cursor is only good for the filters it was made with. */
let chatPage: ChatPageState = { filters: '', cursor: null };
/** Each chat list load; an older one's answer is dropped when a newer one started. */
let chatGeneration = 0;
let chatAbort: AbortController | null = null;

function chatRow(c: ChatSummary): HTMLTableRowElement {
  const open = el(
    'button',
    {
      type: 'button',
      class: 'open-chat',
      'data-chat-id': c.chatId,
      'aria-label': `Open the transcript of chat ${c.chatId}`,
    },
    c.chatId,
  );
  open.addEventListener('click', () => void openTranscript(c.chatId));
  return el(
    'tr',
    { 'data-chat-id': c.chatId },
    el('th', { scope: 'row' }, open),
    el('td', {}, formatTime(c.startedAt)),
    el('td', {}, c.customer),
    el('td', {}, c.agents.join(', ')),
    el('td', {}, c.tags.join(', ')),
    el('td', { class: 'n' }, c.messages === null ? '' : String(c.messages)),
  );
}

async function loadChats(f: Filters, appendIfSameFilters: boolean): Promise<unknown> {
  const key = filtersToSearch(f);
  const cursor = appendIfSameFilters ? cursorFor(chatPage, f) : null;
  const append = cursor !== null;
  chatAbort?.abort();
  const abort = new AbortController();
  chatAbort = abort;
  const generation = ++chatGeneration;
  const body = await getJson(`/v1/chats?${chatsQuery(f, timeZone, cursor)}`, abort.signal);
  if (generation !== chatGeneration) throw new Superseded('superseded');
  const { chats, nextCursor } = readChats(body);
  chatPage = { filters: key, cursor: nextCursor };
  let tbody = document.querySelector<HTMLTableSectionElement>('#chats-data tbody');
  if (!append || tbody === null) {
    const t = table(
      'chats-data',
      f.q === '' ? 'Chats, newest first (times in UTC)' : `Chats whose messages match “${f.q}”, newest first`,
      ['Chat', 'Started', 'Customer', 'Agents', 'Tags', 'Messages'],
      [],
    );
    put('chats-table', t);
    tbody = t.querySelector('tbody')!;
  }
  tbody.append(...chats.map(chatRow));
  if (!append && chats.length === 0) put('chats-table', el('p', { id: 'chats-empty' }, 'No chats match.'));
  byId('chats-more').hidden = nextCursor === null;
  return body;
}

async function openTranscript(chatId: string): Promise<void> {
  const dialog = byId<HTMLDialogElement>('transcript');
  const chat = readChat(await getJson(`/v1/chats/${encodeURIComponent(chatId)}`).catch(report));
  if (chat === null) return;
  byId('transcript-title').textContent = `Chat ${chat.chatId}`;
  put(
    'transcript-meta',
    el(
      'p',
      {},
      [
        chat.customer !== '' ? `Customer: ${chat.customer}` : 'Customer unknown',
        chat.tags.length > 0 ? `Tags: ${chat.tags.join(', ')}` : '',
        chat.rating !== null ? `Rating: ${chat.rating}` : '',
      ]
        .filter((s) => s !== '')
        .join(' · '),
    ),
  );
  const threads = chat.threads.map((t, i) =>
    el(
      'section',
      { class: 'thread', 'aria-label': `Thread ${i + 1}` },
      el('h3', {}, `Thread ${i + 1}`, el('span', { class: 'muted' }, ` ${t.threadId}`)),
      el(
        'ol',
        { class: 'entries' },
        ...t.entries.map((e) =>
          el(
            'li',
            {
              class: `entry ${e.authorType}${e.visibility !== 'all' ? ' internal' : ''}`,
              'data-position': String(e.position),
            },
            el(
              'p',
              { class: 'who' },
              `${e.authorName !== '' ? e.authorName : e.authorType}`,
              el(
                'span',
                { class: 'muted' },
                ` ${e.authorType}${e.visibility !== 'all' ? ' · only agents' : ''} · ${formatTime(e.createdAt)}`,
              ),
            ),
            e.text !== ''
              ? el('p', { class: 'text' }, e.text)
              : el(
                  'p',
                  { class: 'placeholder muted' },
                  `(${e.kind !== '' ? e.kind.replaceAll('_', ' ') : 'no text'})`,
                ),
            e.deleted ? el('p', { class: 'muted' }, '(deleted)') : null,
          ),
        ),
      ),
    ),
  );
  put(
    'transcript-body',
    ...(threads.length > 0 ? threads : [el('p', {}, 'This chat has no transcript entries.')]),
  );
  if (!dialog.open) dialog.showModal();
  byId('transcript-close').focus();
}

// ------------------------------------------------------------------------------------------------ page

let retryTimer: ReturnType<typeof setTimeout> | null = null;

function report(error: unknown): null {
  if (error instanceof Superseded || (error instanceof DOMException && error.name === 'AbortError'))
    return null;
  if (error instanceof SignedOut) {
    window.location.assign('/dashboard?expired=1');
    return null;
  }
  const status = byId('status');
  if (error instanceof Unavailable) {
    status.textContent = 'The dashboard is unavailable for a moment: retrying in a few seconds…';
    status.classList.add('error');
    if (retryTimer === null)
      retryTimer = setTimeout(() => {
        retryTimer = null;
        void load(current());
      }, 3000);
    return null;
  }
  status.textContent = `Could not load: ${error instanceof Error ? error.message : String(error)}`;
  status.classList.add('error');
  return null;
}

function showFilters(f: Filters): void {
  byId<HTMLInputElement>('filter-from').value = f.from;
  byId<HTMLInputElement>('filter-to').value = f.to;
  byId<HTMLInputElement>('chat-q').value = f.q;
}

/** The group filter's choices: the groups of the tenant's threads in the range, and any seen on its chats. */
function showGroups(f: Filters, groupsBody: unknown, chatsBody: unknown): void {
  const select = byId<HTMLSelectElement>('filter-group');
  const known = new Map<string, GroupOption>();
  for (const g of [...readGroups(groupsBody), ...groupsOfChats(chatsBody)])
    if (!known.has(g.id)) known.set(g.id, g);
  const groups = [...known.values()].sort((a, b) => Number(a.id) - Number(b.id));
  if (f.group !== null && !groups.some((g) => g.id === f.group))
    groups.push({ id: f.group, label: `Group ${f.group}` });
  select.replaceChildren(
    el('option', { value: '' }, 'All groups'),
    ...groups.map((g) => el('option', { value: g.id }, g.label)),
  );
  select.value = f.group ?? '';
}

/** Each load of the page's figures; a slower earlier load must not overwrite a newer filter's charts. */
let loadGeneration = 0;
let loadAbort: AbortController | null = null;

async function load(f: Filters): Promise<void> {
  loadAbort?.abort();
  const abort = new AbortController();
  loadAbort = abort;
  const generation = ++loadGeneration;
  const status = byId('status');
  status.classList.remove('error');
  status.textContent = 'Loading…';
  showFilters(f);
  const q = analyticsQuery(f);
  try {
    const [daily, hourly, agents, tags, chats, groups] = await Promise.all([
      getJson(`/v1/analytics/daily?${q}`, abort.signal),
      getJson(`/v1/analytics/hourly?${q}`, abort.signal),
      getJson(`/v1/analytics/agents?${q}`, abort.signal),
      getJson(`/v1/analytics/tags?${q}`, abort.signal),
      loadChats(f, false),
      getJson(`/dashboard/groups?${analyticsQuery({ ...f, group: null })}`, abort.signal),
    ]);
    if (generation !== loadGeneration) return;
    showGroups(f, groups, chats);
    const rows = fillDays(readDaily(daily), f.from, f.to);
    renderKpis(rows, readPeriodTotals(daily));
    renderDaily(rows);
    renderHeatmap(weekHeatmap(readHourly(hourly)));
    renderAgents(agents);
    renderTags(tags);
    status.textContent = `Showing ${f.from} to ${f.to}${f.group === null ? ', all groups' : `, group ${f.group}`}.`;
    document.body.dataset['loaded'] = filtersToSearch(f);
  } catch (error) {
    if (generation === loadGeneration) report(error);
  }
}

function current(): Filters {
  return parseFilters(window.location.search, today());
}

function navigate(next: Filters): void {
  window.history.pushState(null, '', `/dashboard${filtersToSearch(next)}`);
  void load(next);
}

function start(): void {
  if (document.getElementById('open-dashboard') !== null) {
    // The landing page of a link from the LiveChat app: continue to the dashboard from this (the api's) site, so
    // the SameSite=Strict session cookie it just set is sent.
    window.location.replace('/dashboard');
    return;
  }
  if (document.getElementById('filters') === null) return;

  byId('filters').addEventListener('submit', (event) => {
    event.preventDefault();
    const from = byId<HTMLInputElement>('filter-from').value;
    const to = byId<HTMLInputElement>('filter-to').value;
    const group = byId<HTMLSelectElement>('filter-group').value;
    const params = new URLSearchParams({ from, to });
    if (group !== '') params.set('group', group);
    const q = current().q;
    if (q !== '') params.set('q', q);
    navigate(parseFilters(params.toString(), today()));
  });
  for (const button of document.querySelectorAll<HTMLButtonElement>('.presets button')) {
    button.addEventListener('click', () => {
      const days = Number(button.dataset['days']);
      const to = today();
      navigate({ ...current(), from: addDays(to, -(days - 1)), to });
    });
  }
  byId('chat-search').addEventListener('submit', (event) => {
    event.preventDefault();
    const f = { ...current(), q: byId<HTMLInputElement>('chat-q').value.trim().slice(0, 200) };
    window.history.pushState(null, '', `/dashboard${filtersToSearch(f)}`);
    loadChats(f, false).catch(report);
  });
  byId('chats-more').addEventListener('click', () => {
    loadChats(current(), true).catch(report);
  });
  byId('transcript-close').addEventListener('click', () => byId<HTMLDialogElement>('transcript').close());
  window.addEventListener('popstate', () => void load(current()));
  void load(current());
}

start();
