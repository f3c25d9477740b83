import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import type {
  FakeContact,
  FakeHubSpotOptions,
  FakeNote,
  RandomFaultSpec,
  RecordedCall,
} from '@livechat-pipeline/hubspot-fake';
import type { SimulatedChat } from './livechat-sender.js';

/** What the HubSpot fake holds at the end of a run (its in-process inspection API). */
export interface HubSpotState {
  readonly notes: readonly Pick<FakeNote, 'properties' | 'contactIds'>[];
  readonly contacts: readonly Pick<FakeContact, 'id' | 'emailKey'>[];
  readonly calls: readonly Pick<RecordedCall, 'method' | 'path' | 'status'>[];
}

/**
 * crm-sync's sync key of a thread (`services/crm-sync/src/sync/note.ts`, the first line of each note it writes;
 * a stable format by design, so notes made earlier stay findable): computed here independently of the service.
 */
export function syncKey(tenant: string, chatId: string, threadId: string): string {
  const digest = createHash('sha256').update(`${tenant}\u001f${chatId}\u001f${threadId}`).digest('hex');
  return `lc-thread-${digest.slice(0, 32)}`;
}

/**
 * HubSpot against the chats: every closed chat (all its webhooks acknowledged) has exactly one note, on the one
 * contact of its customer's e-mail; no note for any other thread; one contact per e-mail.
 */
export function checkHubSpot(
  hubspot: HubSpotState,
  complete: readonly SimulatedChat[],
  finished: readonly SimulatedChat[],
): { problems: string[]; summary: string } {
  const threadOf = (c: SimulatedChat) => ({
    key: syncKey(c.tenant, c.chatId, c.format === 'v3' ? c.expected.threadId : c.chatId),
    email: c.expected.customerEmail.toLowerCase(),
  });
  const notesByKey = new Map<string, string[][]>();
  for (const note of hubspot.notes) {
    const key = /lc-thread-[0-9a-f]{32}/.exec(note.properties['hs_note_body'] ?? '')?.[0] ?? 'none';
    notesByKey.set(key, [...(notesByKey.get(key) ?? []), note.contactIds]);
  }
  const contacts = hubspot.contacts;
  const contactByEmail = new Map<string, string[]>();
  for (const c of contacts) contactByEmail.set(c.emailKey, [...(contactByEmail.get(c.emailKey) ?? []), c.id]);
  const threads = complete.map(threadOf);
  const known = new Set(finished.map((c) => threadOf(c).key));
  const missing = threads.filter((t) => !notesByKey.has(t.key)).length;
  const duplicated = threads.filter((t) => (notesByKey.get(t.key)?.length ?? 0) > 1).length;
  const unexpected = [...notesByKey.keys()].filter((key) => !known.has(key)).length;
  const wrongContact = threads.filter((t) => {
    const notes = notesByKey.get(t.key);
    const contact = contactByEmail.get(t.email);
    return notes !== undefined && (contact?.length !== 1 || notes.some((ids) => ids.join() !== contact[0]));
  }).length;
  const emails = new Set(threads.map((t) => t.email));
  const contactsMissing = [...emails].filter((e) => !contactByEmail.has(e)).length;
  const contactsDuplicated = [...contactByEmail.values()].filter((ids) => ids.length > 1).length;
  const creates = hubspot.calls.filter((c) => c.method === 'POST' && c.path === '/crm/v3/objects/notes');
  const problems = [
    missing > 0 ? `${missing} closed chats without a HubSpot note` : '',
    duplicated > 0 ? `${duplicated} threads with more than one HubSpot note (applied twice)` : '',
    unexpected > 0 ? `${unexpected} HubSpot notes of no finished chat` : '',
    wrongContact > 0 ? `${wrongContact} notes not on the one contact of their customer's e-mail` : '',
    contactsMissing > 0 ? `${contactsMissing} customers' e-mails without a HubSpot contact` : '',
    contactsDuplicated > 0 ? `${contactsDuplicated} e-mails with more than one HubSpot contact` : '',
  ].filter((p) => p !== '');
  return {
    problems,
    summary: `${threads.length} closed chats, ${hubspot.notes.length} notes (${missing} missing, ${duplicated} duplicated, ${unexpected} unexpected), ${contacts.length} contacts for ${emails.size} e-mails (${contactsDuplicated} duplicated), ${creates.length} note creates sent (${creates.filter((c) => c.status !== 201).length} not 201)`,
  };
}

/** The HubSpot fake as a child process (`hubspot-fake-process.ts`), read and steered over its `/__fake` API. */
export class HubSpotFakeProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(root: string, options: FakeHubSpotOptions): Promise<HubSpotFakeProcess> {
    const script = path.join(root, 'test', 'faults', 'hubspot-fake-process.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(options)], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    // Interrupted or failed runs: the fake goes with the run.
    process.once('exit', () => child.kill('SIGKILL'));
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error('the HubSpot fake did not start in 60 s')), 60_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString('utf8');
        const line = out.split('\n')[0]!;
        if (out.includes('\n')) {
          clearTimeout(timer);
          resolve(line.trim());
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the HubSpot fake exited (${code}) before it listened`));
      });
    });
    return new HubSpotFakeProcess(child, url);
  }

  async notes(): Promise<FakeNote[]> {
    return this.get<FakeNote[]>('notes');
  }

  async state(): Promise<HubSpotState> {
    const [notes, contacts, calls] = await Promise.all([
      this.get<FakeNote[]>('notes'),
      this.get<FakeContact[]>('contacts'),
      this.get<RecordedCall[]>('calls'),
    ]);
    return { notes, contacts, calls };
  }

  /** A seeded random fault plan (`randomFaultPlan`), as `POST /__fake/faults` takes it. */
  async setFaults(random: readonly RandomFaultSpec[], seed: number): Promise<void> {
    await this.send('POST', 'faults', { random, seed });
  }

  async clearFaults(): Promise<void> {
    await this.send('DELETE', 'faults');
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  private async get<T>(what: string): Promise<T> {
    const response = await fetch(`${this.url}/__fake/${what}`, { signal: AbortSignal.timeout(30_000) });
    if (response.status !== 200) throw new Error(`GET /__fake/${what}: ${response.status}`);
    return (await response.json()) as T;
  }

  private async send(method: string, what: string, body?: unknown): Promise<void> {
    const response = await fetch(`${this.url}/__fake/${what}`, {
      method,
      signal: AbortSignal.timeout(30_000),
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    await response.body?.cancel();
    if (response.status !== 204) throw new Error(`${method} /__fake/${what}: ${response.status}`);
  }
}
