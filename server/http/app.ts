// The HTTP API (fastify): the contract's routes over one open index. Every body and query string
// is checked by a JSON schema (which also makes the OpenAPI document at /docs/json); every error
// has the contract's shape, with a 4xx for anything a client sent; a bearer token guards every
// route but /healthz when one is set; a client may be held to a number of requests a minute;
// /metrics counts and times requests for Prometheus.
import { randomUUID, timingSafeEqual, createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { isAbsolute, relative, resolve } from 'node:path';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import rateLimit from '@fastify/rate-limit';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { MAX_K, PAIRINGS, SEARCH_MODES, SearchModeError, warningCollector, type Pairing, type Searcher, type SearchMode } from '../search.js';
import { ContextBuilder, ContextRequestError, MAX_BUDGET, MIN_BUDGET } from '../context/build.js';
import { EmbedderError } from '../../indexer/embed/embedder.js';
import { searchCacheBytes } from '../../indexer/store.js';
import { renderItem } from '../context/render.js';
import { SEARCH_PAGE } from './page.js';
import { CODESEARCH, ProviderError, indexProvider, withSelection, type ContextProvider, type ProviderRequest } from '../provider.js';
import { DEFAULT_STRATEGY, UnknownStrategyError, chooseStrategy, strategyNames, type StrategyConfig } from '../strategy.js';
import { OUTCOMES, type Outcome, type StatsLog } from '../stats.js';

export const BODY_LIMIT = 1024 * 1024;
export const DEFAULT_CONNECTION_TIMEOUT_MS = 30_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
const MAX_TEXT = 10_000;
const MAX_ERRORS_TEXT = 200_000;

export interface AppOptions {
  searcher: Searcher;
  builder: ContextBuilder;
  /** The indexed root: `file` fields must resolve inside it. */
  root: string;
  /** When set, every route but /healthz and the page at / needs `Authorization: Bearer <token>`. */
  token?: string;
  /** Log requests (pino, through fastify) to stderr. */
  logger?: boolean;
  /** Third-party context providers served beside codesearch's own (`codesearch serve --provider`). */
  providers?: readonly ContextProvider[];
  /** The default context strategy and an optional A/B split (default: hybrid-graph for everyone). */
  strategies?: StrategyConfig;
  /** Where answers and feedback are recorded for /v1/stats (none: feedback is refused). */
  stats?: StatsLog;
  /** Requests a minute one client (the token it authenticates with, else its address) may make; 0 or none: no limit. /healthz is never limited. */
  rateLimit?: number;
  /** Milliseconds an idle connection is kept open (default 30 s). */
  connectionTimeout?: number;
  /** Milliseconds a client has to send a whole request, headers and body (default 60 s): a slow sender is cut off with a 408. */
  requestTimeout?: number;
}

/** A request the index cannot serve as asked: 400 with the contract's error shape. */
export class BadRequest extends Error {
  constructor(
    message: string,
    readonly code = 'bad_request',
  ) {
    super(message);
  }
}

const errorSchema = {
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } }, required: ['code', 'message'] } },
};

/** The contract's error code for each 4xx status the server gives (others: `bad_request`). */
const ERROR_CODES: Record<number, string> = {
  401: 'unauthorized',
  404: 'not_found',
  408: 'request_timeout',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  417: 'expectation_failed',
  429: 'rate_limited',
  431: 'headers_too_large',
};
const errorBody = (status: number, message: string) => ({ error: { code: ERROR_CODES[status] ?? 'bad_request', message } });

/** A whole HTTP answer with an error body, for a socket no response object stands for. */
function rawAnswer(status: number, message: string): string {
  const body = JSON.stringify(errorBody(status, message));
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`;
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const requestTimeout = options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: BODY_LIMIT,
    // Slow clients do not hold a connection for ever: an idle one is closed, and a request must
    // arrive whole in time. Node checks the latter every 30 s unless told otherwise; a quarter of
    // the limit cuts a slow sender off within 1.25 times it.
    connectionTimeout: options.connectionTimeout ?? DEFAULT_CONNECTION_TIMEOUT_MS,
    requestTimeout,
    // Node answers a missing Host header itself, with an empty body: the hook below does instead.
    http: { headersTimeout: requestTimeout, connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(requestTimeout / 4))), requireHostHeader: false },
    // Errors of the HTTP layer itself (unparsable requests, oversized headers, timeouts) and
    // URLs that do not decode are answered in the contract's shape too.
    clientErrorHandler: answerClientError,
    frameworkErrors: (err, _request, reply) => void (reply as FastifyReply).status(400).send(errorBody(400, err.message)),
    genReqId: () => randomUUID(),
    // Unknown fields are a client's mistake to hear about, not to have silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });

  app.setErrorHandler((err: FastifyError, _request, reply) => {
    if (err instanceof BadRequest) return reply.status(400).send({ error: { code: err.code, message: err.message } });
    // A third-party provider that failed: not the client's doing, and not codesearch's crash either.
    if (err instanceof ProviderError) return reply.status(502).send({ error: { code: 'provider_failed', message: err.message } });
    if (err.validation) return reply.status(400).send({ error: { code: 'bad_request', message: `${err.validationContext ?? 'request'} ${err.validation[0]?.instancePath ?? ''} ${err.validation[0]?.message ?? err.message}`.replace(/\s+/g, ' ').trim() } });
    const status = err.statusCode ?? 500;
    // The client may still be sending the body refused.
    if (status === 413 && reply.raw.socket) lingerOnClose(reply.raw.socket);
    if (status >= 400 && status < 500) return reply.status(status).send(errorBody(status, err.message));
    app.log.error(err);
    return reply.status(500).send({ error: { code: 'internal', message: 'internal error' } });
  });
  app.setNotFoundHandler((request, reply) => reply.status(404).send({ error: { code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` } }));

  // Node closes a CONNECT request's socket unanswered, and answers an Expect other than
  // 100-continue with an empty 417, unless someone listens for them.
  app.server.on('connect', (request: IncomingMessage, socket: Duplex) => socket.end(rawAnswer(404, `no route CONNECT ${request.url ?? ''}`)));
  app.server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    response.shouldKeepAlive = false;
    response.writeHead(417, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(errorBody(417, `cannot meet Expect: ${request.headers.expect ?? ''}`)));
  });
  app.addHook('onRequest', async (request, reply) => {
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) await reply.status(400).send(errorBody(400, 'an HTTP/1.1 request needs a Host header'));
  });

  const expected = options.token === undefined ? undefined : createHash('sha256').update(options.token).digest();
  /** Whether the request carries the server's token (hashes of equal length, compared in constant time). */
  const authenticated = (request: FastifyRequest) => {
    if (!expected) return false;
    const header = request.headers.authorization ?? '';
    return timingSafeEqual(createHash('sha256').update(header.startsWith('Bearer ') ? header.slice(7) : '').digest(), expected);
  };
  if (options.rateLimit) {
    // Ahead of the token check, so that guessing tokens is limited too.
    await app.register(rateLimit, {
      global: false,
      max: options.rateLimit,
      timeWindow: 60_000,
      // A client is the token it authenticates with, else its address: a token the server does
      // not know is no identity, or a new one per request would escape the limit.
      keyGenerator: (request) => (authenticated(request) ? 'bearer-token' : `ip:${request.ip}`),
      // Health checks must keep answering whoever else shares their address.
      allowList: (request) => request.url === '/healthz',
      errorResponseBuilder: (_request, context) => Object.assign(new Error(`rate limit of ${context.max} requests a minute exceeded; retry in ${context.after}`), { statusCode: context.statusCode }),
    });
    app.addHook('onRequest', app.rateLimit());
  }
  if (expected) {
    app.addHook('onRequest', async (request, reply) => {
      // The page itself holds no data; its API calls carry the token.
      if (request.url === '/healthz' || request.url === '/') return;
      if (!authenticated(request)) {
        await reply.status(401).send({ error: { code: 'unauthorized', message: 'a valid bearer token is required (Authorization: Bearer TOKEN)' } });
      }
    });
  }

  // Prometheus metrics: requests and latency per route (the route pattern, not the raw URL).
  const registry = new Registry();
  const requests = new Counter({ name: 'codesearch_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: ['route', 'method', 'status'], registers: [registry] });
  const latency = new Histogram({
    name: 'codesearch_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  new Gauge({
    name: 'codesearch_index_cache_bytes',
    help: "LanceDB's index and metadata caches, shared by every index version the server opened",
    registers: [registry],
    collect() {
      this.set(searchCacheBytes());
    },
  });
  // An operator alerts on this: answers without vectors mean the embeddings server is out of reach.
  const warned = new Counter({
    name: 'codesearch_answers_with_warnings_total',
    help: 'Search and context answers that did without something (vectors, while the embedder was out of reach), by route',
    labelNames: ['route'],
    registers: [registry],
  });
  const countWarned = (request: FastifyRequest, warnings: readonly string[] | undefined) => {
    if (warnings?.length) warned.inc({ route: request.routeOptions.url ?? 'unmatched' });
  };
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    latency.observe({ route }, reply.elapsedTime / 1000);
  });

  // The OpenAPI document is generated from the same schemas that validate requests.
  if (options.rateLimit) {
    const limited = {
      ...errorSchema,
      description: `over the limit of ${options.rateLimit} requests a minute per client`,
      headers: { 'retry-after': { type: 'integer', description: 'seconds until the client may send again' } },
    };
    app.addHook('onRoute', (route) => {
      if (route.url !== '/healthz') route.schema = { ...route.schema, response: { ...(route.schema?.response as object | undefined), 429: limited } };
    });
  }
  const limits = options.rateLimit ? `; at most ${options.rateLimit} requests a minute per client (429 with Retry-After beyond)` : '';
  await app.register(swagger, { openapi: { info: { title: 'codesearch', version: '0.1.0', description: `OCaml code search and context windows${limits}` } } });

  const { searcher, builder } = options;

  app.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  app.get('/docs/json', async () => app.swagger());

  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.type('text/html; charset=utf-8').send(SEARCH_PAGE));

  app.get('/healthz', async () => {
    // A health check polled alone still sees updates another process commits.
    void searcher.refresh();
    return { status: 'ok', ...searcher.health };
  });

  app.post<{ Body: { query: string; k?: number; mode?: SearchMode; explain?: boolean; pairs?: Pairing } }>(
    '/v1/search',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['query'],
          properties: { query: { type: 'string', minLength: 1, maxLength: MAX_TEXT }, k: { type: 'integer', minimum: 1, maximum: MAX_K }, mode: { type: 'string', enum: [...SEARCH_MODES] }, explain: { type: 'boolean' }, pairs: { type: 'string', enum: [...PAIRINGS] } },
        },
        response: { '4xx': errorSchema },
      },
    },
    async (request) => {
      if (!request.body.query.trim()) throw new BadRequest('query must not be blank');
      const started = performance.now();
      // What the answer lacks (vectors, while the embedder is out of reach) is logged and listed.
      const { warnings, onWarning } = warningCollector((message) => request.log.warn(message));
      const results = await answer(() => searcher.search(request.body.query, { k: request.body.k, mode: request.body.mode, explain: request.body.explain, pairs: request.body.pairs, onWarning }));
      options.stats?.recordAnswer({ requestId: request.id, strategy: 'search', ms: performance.now() - started, tokens: 0, items: results.length });
      countWarned(request, warnings);
      return { results, requestId: request.id, ...(warnings.length > 0 ? { warnings } : {}) };
    },
  );

  app.get<{ Querystring: { q: string; k?: number } }>(
    '/v1/symbols',
    {
      schema: {
        querystring: { type: 'object', additionalProperties: false, required: ['q'], properties: { q: { type: 'string', minLength: 1, maxLength: 500 }, k: { type: 'string', pattern: '^[0-9]{1,4}$' } } },
      },
    },
    async (request) => {
      const k = request.query.k === undefined ? 10 : Number(request.query.k);
      if (k < 1 || k > MAX_K) throw new BadRequest(`k must be between 1 and ${MAX_K}`);
      const results = await answer(() => searcher.lookupSymbol(request.query.q, k));
      return { results, requestId: request.id };
    },
  );

  const contextBody = {
    type: 'object',
    additionalProperties: false,
    required: ['prompt'],
    properties: {
      prompt: { type: 'string', maxLength: MAX_TEXT },
      budget: { type: 'integer', minimum: MIN_BUDGET, maximum: MAX_BUDGET },
      file: { type: 'string', minLength: 1, maxLength: 1000 },
      line: { type: 'integer', minimum: 1, maximum: 10_000_000 },
      errors: { type: 'string', maxLength: MAX_ERRORS_TEXT },
      selection: { type: 'string', maxLength: MAX_TEXT },
      clientId: { type: 'string', maxLength: 200 },
      strategy: { type: 'string', maxLength: 100 },
    },
  } as const;
  const strategies: StrategyConfig = options.strategies ?? { default: DEFAULT_STRATEGY };
  const providers = new Map<string, ContextProvider>([[CODESEARCH, indexProvider(searcher, builder)], ...(options.providers ?? []).map((p) => [p.name, p] as const)]);
  /** A context body as a provider request, its `file` confined to the root. */
  const providerRequest = (body: ProviderRequest): ProviderRequest => {
    const file = body.file === undefined ? undefined : insideRoot(body.file, options.root);
    if (body.line !== undefined && file === undefined) throw new BadRequest('line needs a file');
    return { ...body, file };
  };

  /** codesearch's own window for a request, by its strategy, recorded for /v1/stats. */
  const ownWindow = async (body: ContextBody, request: FastifyRequest) => {
    const { id: requestId, log } = request;
    const started = performance.now();
    const strategy = await answer(async () => chooseStrategy(strategies, body));
    const asked = providerRequest(body);
    const window = await answer(() => builder.build(withSelection(asked), strategy.options));
    for (const warning of window.warnings ?? []) log.warn(warning);
    countWarned(request, window.warnings);
    options.stats?.recordAnswer({ requestId, strategy: strategy.name, clientId: asked.clientId, ms: performance.now() - started, tokens: window.tokens, items: window.items.length });
    return { ...window, strategy: strategy.name };
  };

  app.post<{ Body: ContextBody }>('/v1/context', { schema: { body: contextBody, response: { '4xx': errorSchema } } }, async (request) => ({
    ...(await ownWindow(request.body, request)),
    requestId: request.id,
  }));

  app.post<{ Body: { requestId: string; outcome: Outcome; note?: string } }>(
    '/v1/feedback',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['requestId', 'outcome'],
          properties: { requestId: { type: 'string', minLength: 1, maxLength: 100 }, outcome: { type: 'string', enum: [...OUTCOMES] }, note: { type: 'string', maxLength: 2000 } },
        },
        response: { '4xx': errorSchema },
      },
    },
    async (request, reply) => {
      if (!options.stats?.recordFeedback(request.body.requestId, request.body.outcome)) {
        return reply.status(404).send({ error: { code: 'not_found', message: `no answer with requestId ${request.body.requestId} is on record` } });
      }
      return { ok: true };
    },
  );

  app.get('/v1/stats', async () => ({ strategies: options.stats?.summary() ?? {}, available: strategyNames(), default: strategies.default, ...(strategies.ab ? { ab: strategies.ab } : {}) }));

  app.get('/v1/providers', { schema: { response: { '4xx': errorSchema } } }, async () => ({ providers: [...providers.values()].map((p) => p.describe()) }));

  app.post<{ Params: { name: string }; Body: ContextBody }>(
    '/v1/providers/:name/context',
    { schema: { params: { type: 'object', properties: { name: { type: 'string', maxLength: 100 } }, required: ['name'] }, body: contextBody, response: { '4xx': errorSchema } } },
    async (request, reply) => {
      const provider = providers.get(request.params.name);
      if (!provider) return reply.status(404).send({ error: { code: 'not_found', message: `no context provider '${request.params.name}' (GET /v1/providers lists them)` } });
      const window = provider.name === CODESEARCH ? await ownWindow(request.body, request) : await thirdParty(provider, providerRequest(request.body));
      return { ...window, provider: provider.name, requestId: request.id };
    },
  );

  // Continue's `http` context provider: one item per window span, as Continue shows them.
  app.post<{ Body: { query?: string; fullInput?: string } }>(
    '/v1/providers/continue',
    {
      schema: {
        body: {
          type: 'object',
          properties: { query: { type: 'string', maxLength: MAX_TEXT }, fullInput: { type: 'string', maxLength: MAX_TEXT } },
          anyOf: [{ required: ['query'] }, { required: ['fullInput'] }],
        },
        response: { '4xx': errorSchema },
      },
    },
    async (request) => {
      const prompt = (request.body.query?.trim() || request.body.fullInput?.trim()) ?? '';
      if (!prompt) throw new BadRequest('query or fullInput must not be blank');
      const window = await answer(() => builder.build({ prompt }));
      return window.items.map((item) => ({
        name: `${item.path}:${item.startLine}-${item.endLine}`,
        description: `${item.symbol} (${[item.reason, ...(item.alsoReasons ?? [])].join(', ')})`,
        content: renderItem(item),
      }));
    },
  );

  return app;
}

/** A context request as the routes take it: a provider request, plus the strategy to build it by. */
type ContextBody = ProviderRequest & { strategy?: string };

/** A team's own provider: whatever it throws is its failure, reported in one line as a 502. */
async function thirdParty(provider: ContextProvider, request: ProviderRequest) {
  try {
    return await provider.provide(request);
  } catch (err) {
    throw new ProviderError(`context provider '${provider.name}' failed: ${(err as Error)?.message ?? String(err)}`);
  }
}

/** Errors that describe the request become 400s; anything else stays an internal error. */
async function answer<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof ContextRequestError || err instanceof SearchModeError || err instanceof UnknownStrategyError) throw new BadRequest(err.message);
    if (err instanceof EmbedderError) throw new BadRequest(err.message, 'embedder_unavailable');
    throw err;
  }
}

/**
 * A `file` field as a path relative to the root, refused when it leaves the root: `../`,
 * absolute paths elsewhere, percent-encoded tricks, NUL bytes, symlinks pointing out.
 */
export function insideRoot(file: string, root: string): string {
  let decoded = file;
  try {
    decoded = decodeURIComponent(file);
  } catch {
    throw new BadRequest(`file ${JSON.stringify(file)} is not a valid path`);
  }
  if (decoded.includes('\0')) throw new BadRequest('file must not contain NUL bytes');
  const absolute = resolve(root, decoded);
  const rel = relative(root, absolute);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw new BadRequest(`file ${JSON.stringify(file)} is outside the indexed root`);
  let real: string | undefined;
  try {
    real = realpathSync(absolute);
  } catch {
    // Not on disk (deleted since indexing): the lexical check above is all there is.
  }
  if (real !== undefined) {
    const realRoot = realpathSync(root);
    const realRel = relative(realRoot, real);
    if (realRel.startsWith('..') || isAbsolute(realRel)) throw new BadRequest(`file ${JSON.stringify(file)} leads outside the indexed root`);
  }
  return rel.split('\\').join('/');
}

/** How long a connection whose body was refused keeps reading before it closes. */
const LINGER_MS = 5_000;

/**
 * A connection is closed after a body refused for its size, whose rest the client may still be
 * sending. Closing a socket with unread bytes resets the connection, and a client still writing
 * then loses the 413 sent to it (one 10 MB upload in seven on loopback). So close as lingering
 * servers do: end this side once the answer is written, keep reading and dropping what arrives,
 * and close for good when the client does or after LINGER_MS.
 */
function lingerOnClose(socket: Socket): void {
  socket.destroySoon = () => lingeringClose(socket);
}

function lingeringClose(socket: Duplex): void {
  socket.end();
  socket.resume();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/** Connections whose HTTP-layer error has been answered. */
const answeredErrors = new WeakSet<Duplex>();

/**
 * An error of the HTTP layer, before any route runs (a request that does not parse, headers over
 * Node's limit, a request not received in time), answered in the contract's shape as fastify's
 * default handler would answer it in its own.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset connection has nobody left to answer; a lingering one has had its answer.
  if (err.code === 'ECONNRESET' || socket.destroyed || answeredErrors.has(socket)) return;
  answeredErrors.add(socket);
  const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  const message = status === 408 ? 'the request did not arrive in time' : status === 431 ? 'the request headers are too large' : `the request is not valid HTTP (${err.code ?? err.message})`;
  if (socket.writable) socket.write(rawAnswer(status, message));
  // A client still sending the rest of a bad request must get to read the answer; one too slow to
  // send its request in time is not waited for any longer.
  if (status === 408) socket.destroy(err);
  else lingeringClose(socket);
}

/** Loopback addresses may serve without a token; anything else must not. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
