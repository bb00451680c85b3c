// Errors as JSON {error, code}, in one place: HttpErrors as they are, the project's SQLSTATEs mapped to 4xx,
// malformed JSON to 400, and anything else to a 500 that is logged and tells the client nothing of internals.
import type { ErrorRequestHandler, Express, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { HttpError } from './http-error.ts';

/** Project SQLSTATEs (raised by the presence functions) and what they mean over HTTP. */
const SQLSTATES: Record<string, { status: number; code: string }> = {
  PRAGT: { status: 404, code: 'not_found' }, // unknown tenant/agent pair, or another tenant's agent
  PRTEN: { status: 404, code: 'not_found' }, // unknown tenant
  PRSES: { status: 400, code: 'invalid_input' }, // bad browser session id
  PRSTA: { status: 400, code: 'invalid_input' }, // bad status
  PRACT: { status: 400, code: 'invalid_input' }, // bad activity
  PRRSN: { status: 400, code: 'invalid_input' }, // bad reason
  PRSET: { status: 400, code: 'invalid_input' }, // bad tenant setting
  PRUSR: { status: 400, code: 'invalid_input' }, // bad account input or range
  PRAUT: { status: 401, code: 'unauthenticated' }, // no valid sign-in session
  PRROL: { status: 403, code: 'forbidden' }, // the role does not allow it
};

/** Validates input with a zod schema; a failure is a 400 whose message names each bad field. */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const message = parsed.error.issues
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
  throw new HttpError(400, 'invalid_input', message);
}

export function installNotFound(app: Express): void {
  const notFound: RequestHandler = (req, _res, next) => {
    next(new HttpError(404, 'not_found', `no route ${req.method} ${req.path}`));
  };
  app.use('/api', notFound);
}

export function installErrorHandler(app: Express, logger: Logger): void {
  const handler: ErrorRequestHandler = (error: unknown, req, res, _next) => {
    const { status, code, message } = describe(error);
    if (status >= 500) logger.error({ err: error, method: req.method, url: req.originalUrl }, 'request failed');
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(status).json({ error: message, code });
  };
  app.use(handler);
}

function describe(error: unknown): { status: number; code: string; message: string } {
  if (error instanceof HttpError) return { status: error.status, code: error.code, message: error.message };
  if (isObject(error)) {
    const sqlstate = typeof error.code === 'string' ? SQLSTATES[error.code] : undefined;
    if (sqlstate) return { ...sqlstate, message: String(error.message) };
    // body-parser's errors carry `type` and a 4xx `status`
    if (error.type === 'entity.parse.failed') {
      return { status: 400, code: 'malformed_json', message: 'the request body is not valid JSON' };
    }
    if (error.type === 'entity.too.large') {
      return { status: 413, code: 'body_too_large', message: 'the request body is too large' };
    }
    if (typeof error.status === 'number' && error.status >= 400 && error.status < 500 && error.expose === true) {
      return { status: error.status, code: 'bad_request', message: String(error.message) };
    }
  }
  return { status: 500, code: 'internal', message: 'internal error' };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
