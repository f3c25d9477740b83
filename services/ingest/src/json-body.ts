import { IngestError } from './errors.js';

/**
 * The application/json body parser. Unlike fastify's default it tells malformed JSON from prototype poisoning
 * (`__proto__` keys, `constructor.prototype`), each with its own code, and never echoes body text in messages.
 */
export function parseJsonBody(text: string): unknown {
  if (text.length === 0 || text.trim() === '') {
    throw new IngestError('INGEST_EMPTY_BODY', 'the request body is empty; expected a JSON object');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    const position = cause instanceof SyntaxError ? /position (\d+)/.exec(cause.message)?.[1] : undefined;
    throw new IngestError(
      'INGEST_MALFORMED_JSON',
      position === undefined ? 'the body is not valid JSON' : `the body is not valid JSON (error at position ${position})`,
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
        throw new IngestError('INGEST_PROTOTYPE_POISONING', 'the JSON contains a forbidden "constructor.prototype" key');
      }
    }
    for (const key of Object.keys(obj)) stack.push(obj[key]);
  }
}
