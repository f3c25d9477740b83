import { IngestError } from './errors.js';

/** Bounds on a body's shape, checked on the text before anything walks the parsed value. */
export interface JsonLimits {
  /** Deepest nesting of arrays and objects (the top-level object is depth 1). */
  readonly maxDepth: number;
  /** Most values (objects, arrays, strings, numbers, literals, each object key not counted) in the whole body. */
  readonly maxNodes: number;
}

export const DEFAULT_JSON_LIMITS: JsonLimits = { maxDepth: 64, maxNodes: 100_000 };

/**
 * The application/json body parser. Unlike fastify's default it tells malformed JSON from prototype poisoning
 * (`__proto__` keys, `constructor.prototype`), each with its own code, and never echoes body text in messages.
 * Before JSON.parse, one linear scan of the text bounds the nesting depth and the number of values, so no later
 * walk (poisoning check, canonical JSON, the normalizer's parser) meets a structure deep enough to overflow the
 * stack or wide enough to be slow (400 INGEST_JSON_TOO_DEEP / INGEST_JSON_TOO_LARGE, never a 500).
 */
export function parseJsonBody(text: string, limits: JsonLimits = DEFAULT_JSON_LIMITS): unknown {
  if (text.length === 0 || text.trim() === '') {
    throw new IngestError('INGEST_EMPTY_BODY', 'the request body is empty; expected a JSON object');
  }
  checkShape(text, limits);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    const position = cause instanceof SyntaxError ? /position (\d+)/.exec(cause.message)?.[1] : undefined;
    throw new IngestError(
      'INGEST_MALFORMED_JSON',
      position === undefined
        ? 'the body is not valid JSON'
        : `the body is not valid JSON (error at position ${position})`,
    );
  }
  // JSON.parse only creates __proto__ as an own property; such keys matter when the value is merged or copied.
  if (/__proto__|constructor|\\u/.test(text)) assertNoPoisoning(value);
  return value;
}

function assertNoPoisoning(root: unknown): void {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node !== 'object' || node === null) continue;
    if (Array.isArray(node)) {
      for (const item of node) stack.push(item);
      continue;
    }
    const obj = node as Record<string, unknown>;
    if (Object.hasOwn(obj, '__proto__')) {
      throw new IngestError('INGEST_PROTOTYPE_POISONING', 'the JSON contains a forbidden "__proto__" key');
    }
    if (Object.hasOwn(obj, 'constructor')) {
      const ctor = obj.constructor;
      if (typeof ctor === 'object' && ctor !== null && Object.hasOwn(ctor, 'prototype')) {
        throw new IngestError(
          'INGEST_PROTOTYPE_POISONING',
          'the JSON contains a forbidden "constructor.prototype" key',
        );
      }
    }
    for (const key of Object.keys(obj)) stack.push(obj[key]);
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;

/**
 * Depth and value count of JSON text, outside strings; stops at the first bound exceeded. Malformed text is left
 * to JSON.parse (the counts of malformed text only decide which 400 it gets). Values: every `{` and `[` plus
 * one per element or member (a comma adds one; a non-empty container adds one for its first); object keys are
 * not counted apart from their values.
 */
function checkShape(text: string, limits: JsonLimits): void {
  // Fast path (typical webhooks): with no more '{' / '[' than the depth limit the nesting cannot exceed it, and a
  // text shorter than the value limit cannot hold more values (each takes a character). indexOf is native.
  if (text.length < limits.maxNodes && countOpenings(text, limits.maxDepth + 1) <= limits.maxDepth) return;
  let depth = 0;
  let nodes = 1;
  let inString = false;
  let emptyContainer = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c <= 0x20) continue;
    if (emptyContainer && c !== CLOSE_BRACE && c !== CLOSE_BRACKET) nodes++;
    emptyContainer = false;
    switch (c) {
      case QUOTE:
        inString = true;
        break;
      case OPEN_BRACE:
      case OPEN_BRACKET:
        depth++;
        if (depth > limits.maxDepth) {
          throw new IngestError(
            'INGEST_JSON_TOO_DEEP',
            `the JSON is nested deeper than ${limits.maxDepth} levels`,
          );
        }
        emptyContainer = true;
        break;
      case CLOSE_BRACE:
      case CLOSE_BRACKET:
        depth--;
        break;
      case COMMA:
        nodes++;
        break;
      default:
        break;
    }
    if (nodes > limits.maxNodes) {
      throw new IngestError('INGEST_JSON_TOO_LARGE', `the JSON has more than ${limits.maxNodes} values`);
    }
  }
}

/** How many '{' and '[' the text holds (inside strings too), counting up to `stopAt`. */
function countOpenings(text: string, stopAt: number): number {
  let n = 0;
  for (let i = text.indexOf('{'); i !== -1 && n < stopAt; i = text.indexOf('{', i + 1)) n++;
  for (let i = text.indexOf('['); i !== -1 && n < stopAt; i = text.indexOf('[', i + 1)) n++;
  return n;
}
