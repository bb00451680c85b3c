// Errors as JSON {error, code}, in one place: HttpErrors as they are, the project's SQLSTATEs and input PostgreSQL
// refuses mapped to 4xx (too many changes of status: 429), an unreachable database to 503, a statement or a lock
// that ran out of its timeout to 503 too (the database answers: not an outage), malformed JSON to 400, and anything
// else to a 500 that is logged and tells the client nothing of internals.
import type { ErrorRequestHandler } from 'express';
import type { Logger } from 'pino';
import { isUnavailable, type DatabaseAvailability } from '../database/availability.ts';
import type { ApiError, ErrorCode } from './contract.ts';
import { HttpError } from './http-error.ts';

/** Project SQLSTATEs (raised by the presence functions) and what they mean over HTTP. */
const SQLSTATES: Record<string, { status: number; code: ErrorCode }> = {
  PRAGT: { status: 404, code: 'not_found' }, // unknown tenant/agent pair, or another tenant's agent
  PRTEN: { status: 404, code: 'not_found' }, // unknown tenant
  PRSES: { status: 400, code: 'invalid_input' }, // bad browser tab or sign-in id
  PRSTA: { status: 400, code: 'invalid_input' }, // bad status
  PRACT: { status: 400, code: 'invalid_input' }, // bad activity
  PRRSN: { status: 400, code: 'invalid_input' }, // bad reason
  PRSET: { status: 400, code: 'invalid_input' }, // bad setting
  PRUSR: { status: 400, code: 'invalid_input' }, // bad input or range
  PRRIN: { status: 400, code: 'invalid_input' }, // a tenant reason's field out of range
  PRRDU: { status: 409, code: 'conflict' }, // a live reason of that status has the label
  PRRLM: { status: 409, code: 'conflict' }, // the tenant has as many reasons as allowed
  PRRNF: { status: 404, code: 'not_found' }, // no such reason in the tenant
  PRRCH: { status: 400, code: 'invalid_input' }, // a reason that cannot be chosen for that status
  PRUNT: { status: 400, code: 'invalid_input' }, // an until out of range
};

/**
 * PostgreSQL answering "not now": a statement that ran out of its statement_timeout (57014) or a lock not granted
 * within lock_timeout (55P03). The database is up; the client may try again shortly.
 */
const BUSY_SQLSTATES = new Set(['57014', '55P03']);

export function describeError(error: unknown): { status: number; code: ErrorCode; message: string; headers?: Record<string, string> } {
  if (error instanceof HttpError) return { status: error.status, code: error.code, message: error.message, headers: error.headers };
  if (isUnavailable(error)) {
    return { status: 503, code: 'unavailable', message: 'the database is not answering: try again shortly', headers: { 'Retry-After': '2' } };
  }
  if (isObject(error)) {
    const sqlstate = typeof error.code === 'string' ? error.code : undefined;
    const mapped = sqlstate ? SQLSTATES[sqlstate] : undefined;
    if (mapped) return { ...mapped, message: String(error.message) };
    // PRSCR: too many changes of status by hand; the function says when the next one is allowed.
    if (sqlstate === 'PRSCR') {
      const retryAfter = /retry_after_s=(\d+)/.exec(String(error.detail ?? ''))?.[1] ?? '60';
      return { status: 429, code: 'rate_limited', message: String(error.message), headers: { 'Retry-After': retryAfter } };
    }
    if (sqlstate && BUSY_SQLSTATES.has(sqlstate)) {
      return {
        status: 503,
        code: 'busy',
        message: 'the database did not answer in time: try again shortly',
        headers: { 'Retry-After': '5' },
      };
    }
    // Class 22, data exception: input PostgreSQL refuses (an id that is not of the platform's key type, a value out
    // of range). Its message names the value.
    if (sqlstate?.startsWith('22')) return { status: 400, code: 'invalid_input', message: String(error.message) };
    // body-parser's errors carry `type` and a 4xx `status`
    if (error.type === 'entity.parse.failed') {
      return { status: 400, code: 'malformed_json', message: 'the request body is not valid JSON' };
    }
    if (error.type === 'entity.too.large') {
      return { status: 413, code: 'body_too_large', message: 'the request body is too large' };
    }
    // The router's own: a path parameter that is not valid percent-encoding ('/agents/%/history').
    if (error instanceof URIError && error.status === 400) {
      return { status: 400, code: 'invalid_input', message: `the path is not valid percent-encoding: ${error.message}` };
    }
    if (typeof error.status === 'number' && error.status >= 400 && error.status < 500 && error.expose === true) {
      return { status: error.status, code: 'bad_request', message: String(error.message) };
    }
  }
  return { status: 500, code: 'internal', message: 'internal error' };
}

/**
 * The error handler: JSON answers; a 500 is logged with its stack, a 503 is not: it goes to the availability tracker,
 * which logs the outage once.
 */
export function errorHandler(logger: Logger, availability?: DatabaseAvailability): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const { status, code, message, headers } = describeError(error);
    if (status === 500) logger.error({ err: error, method: req.method, url: req.originalUrl }, 'request failed');
    if (status === 503) availability?.failed(error);
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(status).set(headers ?? {}).json({ error: message, code } satisfies ApiError);
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
