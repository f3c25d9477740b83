import { IngestError, isIngestError } from './errors.js';
import type { ErrorBody, IngestErrorCode } from './errors.js';

export interface ErrorResponse {
  readonly status: number;
  readonly body: ErrorBody;
  readonly retryAfterSeconds?: number;
  readonly error: IngestError;
}

const RETRY_AFTER_SECONDS = 5;

interface FastifyLikeError {
  code?: unknown;
  statusCode?: unknown;
}

/**
 * The one place where errors become HTTP answers: our coded errors keep their code; fastify's own errors
 * (media type, body size, JSON syntax, poisoning) are mapped onto the INGEST_* catalogue.
 */
export function toErrorResponse(
  err: unknown,
  context: { bodyLimitBytes: number; contentType?: string | undefined },
): ErrorResponse {
  const error = isIngestError(err) ? err : fromFramework(err, context);
  const response: ErrorResponse = {
    status: error.status,
    body: { code: error.code, message: error.message },
    error,
    ...(error.status === 503 ? { retryAfterSeconds: RETRY_AFTER_SECONDS } : {}),
  };
  return response;
}

function fromFramework(
  err: unknown,
  context: { bodyLimitBytes: number; contentType?: string | undefined },
): IngestError {
  const e = (typeof err === 'object' && err !== null ? err : {}) as FastifyLikeError;
  const make = (code: IngestErrorCode, message: string) => new IngestError(code, message, { cause: err });
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return make(
        'INGEST_UNSUPPORTED_MEDIA_TYPE',
        context.contentType === undefined
          ? 'Content-Type is missing; send application/json'
          : `Content-Type ${JSON.stringify(context.contentType.slice(0, 100))} is not supported; send application/json`,
      );
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return make(
        'INGEST_PAYLOAD_TOO_LARGE',
        `the body is larger than the limit of ${context.bodyLimitBytes} bytes`,
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return make('INGEST_EMPTY_BODY', 'the request body is empty; expected a JSON object');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return make('INGEST_MALFORMED_JSON', 'the body is not valid JSON');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return make('INGEST_INVALID_CONTENT_LENGTH', 'Content-Length does not match the body received');
    default:
      break;
  }
  if (err instanceof SyntaxError) {
    return /forbidden/.test(err.message)
      ? make(
          'INGEST_PROTOTYPE_POISONING',
          'the JSON contains a forbidden __proto__ or constructor.prototype key',
        )
      : make('INGEST_MALFORMED_JSON', 'the body is not valid JSON');
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status === 413)
    return make(
      'INGEST_PAYLOAD_TOO_LARGE',
      `the body is larger than the limit of ${context.bodyLimitBytes} bytes`,
    );
  if (status === 415)
    return make('INGEST_UNSUPPORTED_MEDIA_TYPE', 'Content-Type is not supported; send application/json');
  if (status >= 400 && status < 500) return make('INGEST_BAD_REQUEST', 'the request is malformed');
  return make('INGEST_INTERNAL', 'unexpected error');
}
