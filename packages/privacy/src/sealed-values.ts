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
  const parts = path.slice(1).split('/');
  // Unescaping is only needed where a token holds `~` (most pointers hold none).
  if (path.includes('~'))
    for (let i = 0; i < parts.length; i++) parts[i] = parts[i]!.replaceAll('~1', '/').replaceAll('~0', '~');
  return parts;
}

function escape(token: string): string {
  return token.includes('~') || token.includes('/')
    ? token.replaceAll('~', '~0').replaceAll('/', '~1')
    : token;
}

/** Each spec's tokens, split once: the specs are long-lived constants (PERSONAL_PATHS), sealed with on every record. */
const specTokens = new WeakMap<SealSpec, readonly string[]>();

function tokensOf(spec: SealSpec): readonly string[] {
  let path = specTokens.get(spec);
  if (path === undefined) {
    path = tokens(spec.path);
    specTokens.set(spec, path);
  }
  return path;
}

type Key = string | number;

/** One concrete location a spec names: its pointer, the container holding the value, and the keys leading to it. */
interface Location {
  readonly pointer: string;
  readonly holder: Container;
  readonly key: Key;
  readonly keys: readonly Key[];
}

/** What one `locate` call carries down the record (module-level walkers: no closures made per call). */
interface Search {
  readonly spec: SealSpec;
  readonly path: readonly string[];
  readonly trail: Key[];
  readonly found: Location[];
}

/** Every concrete location a spec names in `root`, in document order. */
function locate(root: unknown, spec: SealSpec): Location[] {
  const search: Search = { spec, path: tokensOf(spec), trail: [], found: [] };
  walk(search, root, 0, '');
  return search.found;
}

function walk(search: Search, node: unknown, depth: number, pointer: string): void {
  if (!isContainer(node) || depth === search.path.length) return;
  const head = search.path[depth]!;
  if (head !== '*') visit(search, node, Array.isArray(node) ? Number(head) : head, depth, pointer);
  else if (Array.isArray(node)) for (let i = 0; i < node.length; i++) visit(search, node, i, depth, pointer);
}

function visit(search: Search, node: Container, k: Key, depth: number, pointer: string): void {
  const child = (node as Record<Key, unknown>)[k];
  const here = `${pointer}/${escape(String(k))}`;
  if (depth === search.path.length - 1) {
    if (child === undefined || child === null) return;
    const when = search.spec.when;
    if (when !== undefined && (Array.isArray(node) || !when(node))) return;
    search.found.push({ pointer: here, holder: node, key: k, keys: [...search.trail, k] });
  } else {
    search.trail.push(k);
    walk(search, child, depth + 1, here);
    search.trail.pop();
  }
}

/**
 * Writes values at pointers into a copy of a record, copying each container on the way only the first time a write
 * goes through it (later writes reuse that copy): linear in the record, however many values are written. Copying the
 * containers on the path at every write would copy a 50,000-element array 50,000 times. The input is never mutated.
 */
class CopyOnWrite {
  // A Set, not a WeakSet: the writer lives for one call, and a Set is the cheaper of the two.
  readonly #copies = new Set<object>();
  root: unknown;

  constructor(root: unknown) {
    this.root = root;
  }

  /** Writes at the keys `locate` found (array indexes already numbers). */
  setAt(keys: readonly Key[], value: unknown, pointer: string): void {
    this.root = this.#own(this.root, pointer);
    let node = this.root as Record<Key, unknown>;
    const last = keys.length - 1;
    for (let i = 0; i < last; i++) {
      const key = keys[i]!;
      const child = this.#own(node[key], pointer);
      node[key] = child;
      node = child as Record<Key, unknown>;
    }
    node[keys[last]!] = value;
  }

  /** Writes at a pointer (a token is an array index where the container is an array). */
  set(pointer: string, value: unknown): void {
    const path = tokens(pointer);
    this.root = this.#own(this.root, pointer);
    let node = this.root as Container;
    for (let i = 0; i < path.length; i++) {
      const token = path[i]!;
      const key = Array.isArray(node) ? Number(token) : token;
      const slots = node as Record<Key, unknown>;
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
  // Keyed by pointer (each starts with "/", so never an array index or `__proto__`): insertion order is kept.
  const originals: Record<string, unknown> = {};
  const paths: string[] = [];
  let clear: CopyOnWrite | undefined;
  for (const spec of specs) {
    for (const { pointer, holder, key: k, keys } of locate(record, spec)) {
      if (Object.hasOwn(originals, pointer)) continue;
      const value = (holder as Record<Key, unknown>)[k];
      originals[pointer] = value;
      paths.push(pointer);
      clear ??= new CopyOnWrite(record);
      clear.setAt(keys, spec.clear === undefined ? null : spec.clear(value), pointer);
    }
  }
  if (clear === undefined) return { clear: record, envelope: null, paths };
  if (key === null) return { clear: clear.root as T, envelope: null, paths };
  const sealed = JSON.stringify(originals);
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
