import { decryptField, encryptField } from './envelope.js';
import type { ChatKey } from './envelope.js';
import { PrivacyError } from './errors.js';

/** Which value of a record is personal: a JSON Pointer, `*` standing for every element of an array. */
export interface SealSpec {
  /** A JSON Pointer such as `/message/text`; a `*` token matches every array element (tokens users, *, name). */
  readonly path: string;
  /** Seal only when this holds for the object that holds the value (e.g. `user.kind === 'customer'`). */
  readonly when?: (holder: Readonly<Record<string, unknown>>) => boolean;
  /** What stays in the clear record (default null): `[]` for an array, `'{}'` for a required string, or a reduction. */
  readonly clear?: (value: unknown) => unknown;
}

export interface SealedValues<T> {
  /** The record with every sealed value replaced by its clear stand-in (containers on the way copied, never mutated). */
  readonly clear: T;
  /** `encryptField(key, field, JSON {pointer: original})`, or null when nothing was sealed or the key was null. */
  readonly envelope: Buffer | null;
  /** The concrete pointers sealed, in order. */
  readonly paths: string[];
}

type Container = Record<string, unknown> | unknown[];

function isContainer(value: unknown): value is Container {
  return typeof value === 'object' && value !== null && !ArrayBuffer.isView(value);
}

function tokens(path: string): string[] {
  if (!path.startsWith('/'))
    throw new PrivacyError(
      'PRIVACY_INVALID_ARGUMENT',
      `a path is a JSON Pointer starting with "/": ${path.slice(0, 80)}`,
    );
  return path
    .slice(1)
    .split('/')
    .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
}

const escape = (token: string): string => token.replaceAll('~', '~0').replaceAll('/', '~1');

/** Every concrete location a spec names in `root`: [pointer, holder, key]. */
function locate(root: unknown, spec: SealSpec): Array<[string, Container, string | number]> {
  const found: Array<[string, Container, string | number]> = [];
  const walk = (node: unknown, rest: string[], pointer: string): void => {
    if (!isContainer(node) || rest.length === 0) return;
    const [head, ...tail] = rest as [string, ...string[]];
    const keys: Array<string | number> =
      head === '*'
        ? Array.isArray(node)
          ? node.map((_, i) => i)
          : []
        : [Array.isArray(node) ? Number(head) : head];
    for (const k of keys) {
      const child = (node as Record<string | number, unknown>)[k];
      const here = `${pointer}/${escape(String(k))}`;
      if (tail.length === 0) {
        if (child === undefined || child === null) continue;
        if (spec.when !== undefined && (Array.isArray(node) || !spec.when(node))) continue;
        found.push([here, node, k]);
      } else walk(child, tail, here);
    }
  };
  walk(root, tokens(spec.path), '');
  return found;
}

/**
 * Writes values at pointers into a copy of a record, copying each container on the way only the first time a write
 * goes through it (later writes reuse that copy): linear in the record, however many values are written. Copying the
 * containers on the path at every write would copy a 50,000-element array 50,000 times. The input is never mutated.
 */
class CopyOnWrite {
  readonly #copies = new WeakSet<object>();
  root: unknown;

  constructor(root: unknown) {
    this.root = root;
  }

  set(pointer: string, value: unknown): void {
    const path = tokens(pointer);
    this.root = this.#own(this.root, pointer);
    let node = this.root as Container;
    for (const [i, token] of path.entries()) {
      const key = Array.isArray(node) ? Number(token) : token;
      const slots = node as Record<string | number, unknown>;
      if (i === path.length - 1) slots[key] = value;
      else {
        const child = this.#own(slots[key], pointer);
        slots[key] = child;
        node = child;
      }
    }
  }

  /** `node` itself when this writer made it, else its shallow copy (which later writes then reuse). */
  #own(node: unknown, pointer: string): Container {
    if (!isContainer(node)) throw new PrivacyError('PRIVACY_INVALID_ARGUMENT', `no container at ${pointer}`);
    if (this.#copies.has(node)) return node;
    const clone: Container = Array.isArray(node) ? [...node] : { ...node };
    this.#copies.add(clone);
    return clone;
  }
}

/**
 * Seals the personal values of a record into one envelope (one AES-GCM operation, whatever their number) and
 * returns the record with clear stand-ins. `field` binds the envelope to its record (e.g. `chat-event:<event id>`).
 * Null and absent values are left as they are. Key `null` (the scope is erased): the clear record and the paths only,
 * no envelope and no encryption.
 */
export function sealValues<T>(
  record: T,
  specs: readonly SealSpec[],
  key: ChatKey | null,
  field: string,
): SealedValues<T> {
  const originals = new Map<string, unknown>();
  const clear = new CopyOnWrite(record);
  for (const spec of specs) {
    for (const [pointer, holder, k] of locate(record, spec)) {
      if (originals.has(pointer)) continue;
      const value = (holder as Record<string | number, unknown>)[k];
      originals.set(pointer, value);
      clear.set(pointer, spec.clear === undefined ? null : spec.clear(value));
    }
  }
  const paths = [...originals.keys()];
  if (paths.length === 0) return { clear: record, envelope: null, paths };
  if (key === null) return { clear: clear.root as T, envelope: null, paths };
  const sealed = JSON.stringify(Object.fromEntries(originals));
  return { clear: clear.root as T, envelope: encryptField(key, field, sealed), paths };
}

/**
 * Puts the sealed values back. Throws PRIVACY_CIPHERTEXT_INVALID when the envelope does not open for this key and
 * field, or does not hold a JSON object of pointers.
 */
export function openValues<T>(clear: T, envelope: Uint8Array, key: ChatKey, field: string): T {
  let originals: unknown;
  try {
    originals = JSON.parse(decryptField(key, field, envelope));
  } catch (err) {
    if (err instanceof PrivacyError) throw err;
    throw new PrivacyError('PRIVACY_CIPHERTEXT_INVALID', 'sealed values are not JSON', { cause: err });
  }
  if (!isContainer(originals) || Array.isArray(originals))
    throw new PrivacyError('PRIVACY_CIPHERTEXT_INVALID', 'sealed values are not an object of pointers');
  const open = new CopyOnWrite(clear);
  for (const [pointer, value] of Object.entries(originals)) open.set(pointer, value);
  return open.root as T;
}
