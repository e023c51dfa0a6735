// Hostile requests for codesearch's HTTP API and MCP tools, as fast-check arbitraries, with the
// clients that send them and the checks every answer must pass: no 5xx, every error in the
// contract's shape (`{"error":{"code","message"}}` with a 4xx), no window for a file outside the
// indexed root, and for MCP a tool error or a valid result, never a dead server. HTTP goes over a
// raw socket: fetch cannot send a wrong Content-Length, duplicate headers or broken framing.
// `test/fuzz.test.ts` runs a fast form of them; `fuzz.ts` the full trial.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import fc from 'fast-check';

/** What the generators need to know about the server under test. */
export interface FuzzTarget {
  /** The server's bearer token: sent right in most requests, wrong or missing in some. */
  token?: string;
  /** Indexed files, relative to the root: `file` values that reach the window builder. */
  files: readonly string[];
  /** Paths inside the root that lead out of it through a symlink. */
  escapes: readonly string[];
  /** Queries that find something in the index. */
  queries: readonly string[];
}

export interface HttpCase {
  /** The kind of abuse, for reports. */
  family: string;
  /** The request line's method: a HEAD answer has no body. */
  method: string;
  /** The route the request means, when it is one (`/v1/search`): its answer is checked too. */
  route?: string;
  /** Exactly the bytes sent. */
  bytes: Buffer;
  /** Asks for a window of a file outside the root: anything but a refusal is a breach. */
  mustRefuse: boolean;
  /**
   * The bytes may stop inside a request. The sender then ends its side of the connection when no
   * answer comes soon, so that the server sees where they stop; it never does otherwise, since a
   * Node server drops the requests of a client that ends its side.
   */
  incomplete?: boolean;
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** An answer, or why there was none. */
export type HttpOutcome = { answer: HttpAnswer } | { failure: string };

const ROUTES_WITH_BODY = ['/v1/search', '/v1/context', '/v1/feedback', '/v1/providers/continue', '/v1/providers/codesearch/context'] as const;
const CHEAP_GETS = ['/healthz', '/v1/stats', '/v1/providers', '/metrics', '/docs/json', '/'] as const;
const STRATEGIES = ['hybrid-graph', 'lexical-only', 'no-expansion'];
const OUTCOMES = ['accepted', 'rejected', 'applied', 'build-green', 'build-red'];
const MAX_LONG_TEXT = 300_000;
/** The size of the largest bodies sent: ten times the server's limit. */
export const HUGE_BODY = 10 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Values

/** Strings known to break parsers, paths, tokenizers and loggers. */
const SPECIAL_TEXT = [
  '', ' ', '\t\n', '\u0000', 'a\u0000b', '\ud800', '\udfff', '\udc00\ud800', 'x\ud83d', '\u202e\u2066evil\u2069', '\u200f\u200e\u200b', '\ufeff',
  '\uffff\ufffe', '\u{10ffff}', '\u0301\u0301', 'e\u0301'.repeat(500), '\u2028\u2029\u0085', '\r\n\r\nHTTP/1.1 200 OK\r\n', '%00', '%2e%2e%2f', '%zz', '%',
  "' OR 1=1 --", 'SELECT * FROM chunks; --', "path LIKE '%'", '${jndi:ldap://x}', '<script>alert(1)</script>', '{{7*7}}', '__proto__', 'constructor',
  'toString', 'hasOwnProperty', 'NaN', 'null', 'undefined', '-> -> ->', "'a -> 'b", '((((((((', ')))', '"', "'", '`', '\\', '*', '?', '[', '(*', '*)',
  "'unterminated quote", '"The constructor X expects N argument(s)"', "'%s %d %a %@ ... X Y'", 'List.concat_map', 'string -> char -> string list', 'A.B.C.D.E.F.G.h',
];

const oddCharacter = fc.oneof(
  fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)),
  fc.constantFrom('\u202e', '\u2066', '\u200b', '\u0085', '\u2028', '\u2029', '\ufeff', '\u0301', '\u{1f600}', 'é', '.', '/', '_', "'"),
);

/** A name as OCaml writes one, sometimes far longer than any real one. */
const identifier = fc.oneof(
  fc.stringMatching(/^[a-z][a-z0-9_]{0,12}$/),
  fc
    .tuple(fc.array(fc.stringMatching(/^[a-z][a-z0-9]{1,9}$/), { minLength: 4, maxLength: 16 }), fc.boolean())
    .map(([words, primed]) => `${words.join('_')}${primed ? "'" : ''}`),
  fc.tuple(fc.array(fc.stringMatching(/^[A-Z][a-z0-9_]{0,10}$/), { maxLength: 12 }), fc.stringMatching(/^[a-z][a-z0-9_]{0,40}$/)).map(([mods, name]) => [...mods, name].join('.')),
);

/** Text past the server's limits, or just under them: one piece repeated. */
const longText = fc
  .tuple(
    fc.oneof(fc.constantFrom('a', 'ab ', 'x_', '\ud800', 'é', 'A.', '->', '(', 'let ', "'", '../', '%2e'), fc.string({ minLength: 1, maxLength: 8 })),
    fc.oneof(fc.integer({ min: 1000, max: 10_000 }), fc.integer({ min: 10_001, max: MAX_LONG_TEXT })),
  )
  .map(([piece, length]) => piece.repeat(Math.ceil(length / piece.length)).slice(0, length));

const hostileText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...SPECIAL_TEXT) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 2, arbitrary: fc.string({ unit: oddCharacter, maxLength: 60 }) },
  { weight: 2, arbitrary: longText },
  // Many names in one query: each one is looked up.
  { weight: 2, arbitrary: fc.array(identifier, { minLength: 1, maxLength: 400 }).map((names) => names.join(' ')) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 100 }) },
);

const hostileNumber = fc.oneof(
  fc.constantFrom(0, -0, -1, 1, 49, 50, 1000, 1001, 200_000, 200_001, 2 ** 31, 2 ** 53, -(2 ** 53), 1e21, 1e308, -1e308, 5e-324, 0.5, 1.5),
  fc.integer(),
  fc.double(),
);

/** Any JSON value a field should not hold. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileText },
  { weight: 3, arbitrary: hostileNumber },
  { weight: 1, arbitrary: fc.constantFrom(true, false, null, [], {}, [[[[[]]]]], { query: 'x' }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
);

/** A value one time in `oneIn`, else null (fast-check's `option` is the other way round). */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, oneIn: number) => fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary });

/** A field's value: usually one the server accepts, so that requests reach deep; sometimes not. */
const field = <T>(valid: fc.Arbitrary<T>, weight = 5) => fc.oneof({ weight, arbitrary: valid as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: hostileValue });

/** A `file` field, and whether it names something outside the indexed root. */
interface FileField {
  file: string;
  outside: boolean;
}

function fileField(target: FuzzTarget): fc.Arbitrary<FileField> {
  const outside = fc.oneof(
    fc.integer({ min: 1, max: 12 }).map((n) => `${'../'.repeat(n)}etc/passwd`),
    fc.constantFrom(
      '/etc/passwd', '/proc/self/environ', '/', '..', '../', 'src/../../etc/passwd', '%2e%2e/%2e%2e/etc/passwd', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '..%2f..%2fetc%2fpasswd',
      '%2E%2E/%2E%2E/etc/passwd', './../../', 'src/cart.ml\u0000../../etc/passwd', '\u0000', '/tmp', '//etc/passwd', '/../../../etc/passwd',
    ),
    ...(target.escapes.length ? [fc.constantFrom(...target.escapes)] : []),
  );
  // Odd names that stay inside the root: refused or answered, but never a crash.
  const odd = fc.oneof(
    fc.constantFrom('%252e%252e%252fetc%252fpasswd', '..\\..\\etc\\passwd', '\u2024\u2024/etc/passwd', 'src/./././cart.ml', 'src//cart.ml', '~/x.ml', 'file:///etc/passwd', 'src/%zz.ml', 'src/%'),
    hostileText.filter((s) => s.length > 0 && s.length <= 1000),
  );
  const known = target.files.length ? [{ weight: 3, arbitrary: fc.constantFrom(...target.files).map((file) => ({ file, outside: false })) }] : [];
  return fc.oneof(...known, { weight: 2, arbitrary: outside.map((file) => ({ file, outside: true })) }, { weight: 1, arbitrary: odd.map((file) => ({ file, outside: false })) });
}

function query(target: FuzzTarget) {
  return fc.oneof(
    { weight: 2, arbitrary: target.queries.length ? fc.constantFrom(...target.queries) : identifier },
    { weight: 1, arbitrary: identifier },
    { weight: 1, arbitrary: fc.stringMatching(/^[a-z]{3,9}( [a-z]{2,9}){1,8}$/) },
  );
}

const buildErrors = (files: readonly string[]) =>
  fc
    .tuple(files.length ? fc.constantFrom(...files) : fc.constant('src/a.ml'), fc.integer({ min: -5, max: 100_000 }), fc.string({ maxLength: 200 }))
    .map(([file, line, message]) => `File "${file}", line ${line}, characters 2-5:\nError: ${message}\n`);

/**
 * A body for each JSON route, mostly well-formed, with hostile values mixed in; `outside`: its
 * `file` leaves the root. Required fields are always there (bodies without them come from
 * `brokenBodies`), so that most requests get past the schema.
 */
function jsonBody(route: (typeof ROUTES_WITH_BODY)[number], target: FuzzTarget): fc.Arbitrary<{ body: Record<string, unknown>; outside: boolean }> {
  const junk = sometimes(fc.tuple(fc.oneof(fc.constantFrom('zzz', '__proto__', 'constructor', 'prototype', ''), fc.string({ maxLength: 20 })), hostileValue), 8);
  const inside = (model: fc.Arbitrary<Record<string, unknown>>) => model.map((body) => ({ body, outside: false }));
  let model: fc.Arbitrary<{ body: Record<string, unknown>; outside: boolean }>;
  switch (route) {
    case '/v1/search':
      model = inside(fc.record({ query: field(query(target), 6), k: field(fc.integer({ min: 1, max: 50 })), mode: field(fc.constantFrom('hybrid', 'lexical', 'vector')) }, { requiredKeys: ['query'] }));
      break;
    case '/v1/context':
    case '/v1/providers/codesearch/context':
      model = fc
        .record(
          {
            prompt: field(query(target), 6),
            budget: field(fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 50, max: 4000 }) }, { weight: 1, arbitrary: fc.integer({ min: 4000, max: 200_000 }) })),
            file: fileField(target),
            line: field(fc.integer({ min: 1, max: 500 })),
            errors: field(buildErrors(target.files), 3),
            selection: field(query(target), 3),
            clientId: field(fc.string({ maxLength: 40 }), 3),
            strategy: field(fc.constantFrom(...STRATEGIES), 3),
          },
          { requiredKeys: ['prompt'] },
        )
        .map(({ file, ...rest }) => ({ body: file ? { ...rest, file: file.file } : rest, outside: file?.outside ?? false }));
      break;
    case '/v1/feedback':
      model = inside(fc.record({ requestId: field(fc.uuid()), outcome: field(fc.constantFrom(...OUTCOMES)), note: field(fc.string({ maxLength: 50 }), 3) }, { requiredKeys: ['requestId', 'outcome'] }));
      break;
    case '/v1/providers/continue':
      model = inside(fc.record({ query: field(query(target)), fullInput: field(query(target)) }, { requiredKeys: [] }));
      break;
  }
  return fc.tuple(model, junk).map(([{ body, outside }, extra]) => ({ body: extra ? { ...body, [extra[0]]: extra[1] } : body, outside }));
}

// ---------------------------------------------------------------------------------------------
// HTTP requests

interface RequestParts {
  method: string;
  target: string;
  headers: [string, string][];
  body?: Buffer;
  /** How the body is delimited: its length (the right one unless `lengths` says otherwise), chunks, or not at all. */
  framing?: 'length' | 'chunked' | 'none';
  /** Content-Length values to send instead of the right one. */
  lengths?: string[];
}

function encode({ method, target, headers, body, framing = 'length', lengths }: RequestParts): Buffer {
  const lines = [`${method} ${target} HTTP/1.1`, ...headers.map(([name, value]) => `${name}: ${value}`)];
  if (body && framing === 'length') for (const length of lengths ?? [String(body.length)]) lines.push(`Content-Length: ${length}`);
  if (body && framing === 'chunked') lines.push('Transfer-Encoding: chunked');
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8');
  if (!body) return head;
  return Buffer.concat([head, framing === 'chunked' ? inChunks(body) : body]);
}

function inChunks(body: Buffer, size = 64 * 1024): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < body.length; at += size) {
    const piece = body.subarray(at, at + size);
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

/** Percent-encodes every byte of the UTF-8 form but unreserved ones (a lone surrogate becomes U+FFFD, as any client sends it). */
function percentEncode(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) out += /[A-Za-z0-9\-_.~]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

function standardHeaders(target: FuzzTarget, json = true): [string, string][] {
  return [['Host', '127.0.0.1'], ['Connection', 'close'], ...(json ? [['Content-Type', 'application/json'] as [string, string]] : []), ...(target.token ? [['Authorization', `Bearer ${target.token}`] as [string, string]] : [])];
}

function httpCase(family: string, parts: RequestParts, options: { route?: string; mustRefuse?: boolean; incomplete?: boolean } = {}): HttpCase {
  return printable({ family, method: parts.method, route: options.route, bytes: encode(parts), mustRefuse: options.mustRefuse ?? false, incomplete: options.incomplete });
}

function rawCase(family: string, bytes: Buffer, incomplete: boolean): HttpCase {
  return printable({ family, method: bytes.subarray(0, bytes.indexOf(' ')).toString('latin1'), bytes, mustRefuse: false, incomplete });
}

/** fast-check prints the cases that fail, and some carry 10 MB: print them short. */
function printable(c: HttpCase): HttpCase {
  return Object.assign(c, { [fc.toStringMethod]: () => describeCase(c) });
}

/** A body for one of `routes`, with its route (each route's arbitrary built once: building them costs far more than drawing). */
function routedBody<R extends (typeof ROUTES_WITH_BODY)[number]>(target: FuzzTarget, routes: readonly R[]) {
  return fc.oneof(...routes.map((route) => jsonBody(route, target).map((drawn) => ({ route, ...drawn }))));
}

/** Well-formed requests to every route, with hostile values in their fields. */
function apiCalls(target: FuzzTarget): fc.Arbitrary<HttpCase> {
  const post = routedBody(target, ROUTES_WITH_BODY).map(({ route, body, outside }) =>
    httpCase('fields', { method: 'POST', target: route, headers: standardHeaders(target), body: Buffer.from(JSON.stringify(body), 'utf8') }, { route, mustRefuse: outside && route !== '/v1/providers/continue' }),
  );
  const symbols = fc
    .tuple(field(identifier, 4), fc.option(field(fc.integer({ min: 1, max: 50 }).map(String)), { freq: 2 }), sometimes(fc.tuple(fc.string({ maxLength: 10 }), hostileText), 6))
    .map(([q, k, extra]) => {
      const params = [`q=${percentEncode(String(q))}`, ...(k === null ? [] : [`k=${percentEncode(String(k))}`]), ...(extra ? [`${percentEncode(extra[0])}=${percentEncode(extra[1])}`] : [])];
      return httpCase('fields', { method: 'GET', target: `/v1/symbols?${params.join('&')}`, headers: standardHeaders(target, false) }, { route: '/v1/symbols' });
    });
  const providers = fc
    .tuple(fc.oneof(fc.constantFrom('codesearch', 'nope', '__proto__', 'constructor', 'continue', '..', '%2e%2e'), hostileText), jsonBody('/v1/context', target))
    .map(([name, { body }]) =>
      httpCase('fields', { method: 'POST', target: `/v1/providers/${percentEncode(name)}/context`, headers: standardHeaders(target), body: Buffer.from(JSON.stringify(body)) }, { route: '/v1/providers/:name/context' }),
    );
  const gets = fc.constantFrom(...CHEAP_GETS).map((route) => httpCase('fields', { method: 'GET', target: route, headers: standardHeaders(target, false) }, { route }));
  return fc.oneof({ weight: 12, arbitrary: post }, { weight: 3, arbitrary: symbols }, { weight: 2, arbitrary: providers }, { weight: 1, arbitrary: gets });
}

/** Bodies that are not the JSON they claim to be: truncated, invalid bytes, deep, polluting, odd numbers. */
function brokenBodies(target: FuzzTarget): fc.Arbitrary<HttpCase> {
  const send = (route: string, body: Buffer) => httpCase('body', { method: 'POST', target: route, headers: standardHeaders(target), body }, { route });
  const truncated = fc
    .tuple(routedBody(target, ROUTES_WITH_BODY), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }))
    .map(([{ route, body }, cut]) => {
      const text = JSON.stringify(body);
      return send(route, Buffer.from(text.slice(0, Math.floor(cut * text.length))));
    });
  const texts = fc.constantFrom(
    '{', '}', '[', ']', 'null', 'true', '0', '"x"', '{"query":}', '{"query":"x",}', "{'query':'x'}", '{"query":"x"} trailing', '{"query":"x"}{"query":"y"}', '// c\n{"query":"x"}',
    '{"query":NaN}', '{"query":"x","k":Infinity}', '{"query":"x","k":1e999}', '{"query":"x","k":123456789012345678901234567890}', '{"query":"x","k":-0}',
    '{"query":"x","k":1e-400}', '{"query":"x","k":0x10}', '{"query":"\\ud800"}', '{"query":"\\u0000"}', '{"query":"\\x41"}', '{"query":"a","query":5}',
    '{"__proto__":{"polluted":1},"query":"x"}', '{"constructor":{"prototype":{"polluted":1}},"query":"x"}', '\ufeff{"query":"x"}', ' \t\n{"query":"x"}\n ', '', '   ',
    '{"prompt":"x","budget":1e999}', '{"prompt":"x","file":{"__proto__":null}}', '{"prompt":"x","line":9007199254740993}',
  );
  const invalidUtf8 = fc
    .tuple(fc.constantFrom(...ROUTES_WITH_BODY), fc.oneof(fc.constantFrom([0xff], [0xc0, 0xaf], [0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x00], [0xfe, 0xff]), fc.uint8Array({ maxLength: 300 }).map((a) => [...a])))
    .map(([route, bytes]) => send(route, Buffer.concat([Buffer.from('{"query":"'), Buffer.from(bytes), Buffer.from('","prompt":"x"}')])));
  const deep = fc
    .tuple(fc.constantFrom(...ROUTES_WITH_BODY), fc.constantFrom(['[', ']'], ['{"a":', '}'], ['{"__proto__":', '}'], ['{"constructor":', '}']), fc.integer({ min: 100, max: 200_000 }))
    .map(([route, [open, close], depth]) => send(route, Buffer.from(`{"query":"x","prompt":"x","k":${open!.repeat(depth)}1${close!.repeat(depth)}}`)));
  const wide = fc
    .tuple(fc.constantFrom(...ROUTES_WITH_BODY), fc.integer({ min: 1000, max: 60_000 }), fc.boolean())
    .map(([route, n, keys]) =>
      send(route, Buffer.from(keys ? `{"query":"x",${Array.from({ length: n }, (_, i) => `"k${i}":${i}`).join(',')}}` : `{"query":"x","k":[${'0,'.repeat(n)}0]}`)),
    );
  return fc.oneof(
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...ROUTES_WITH_BODY), fc.jsonValue({ maxDepth: 3 })).map(([route, value]) => send(route, Buffer.from(JSON.stringify(value) ?? ''))) },
    { weight: 3, arbitrary: truncated },
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...ROUTES_WITH_BODY), texts).map(([route, text]) => send(route, Buffer.from(text))) },
    { weight: 2, arbitrary: invalidUtf8 },
    { weight: 2, arbitrary: deep },
    { weight: 1, arbitrary: wide },
  );
}

/** A sound request with abused headers: content type, credentials, lengths, sizes, duplicates. */
function headerAbuse(target: FuzzTarget): fc.Arbitrary<HttpCase> {
  const token = target.token ?? 'no-token';
  const contentType = fc.option(
    fc.constantFrom(
      'application/json', 'application/json; charset=utf-8', 'Application/JSON', 'application/json; charset=latin1', 'application/json; charset=utf-16', 'application/json;;',
      'application/json; boundary=', 'text/plain', 'text/json', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', '*/*', '',
      'application/jsonx', 'json', 'é/é', 'application/json, text/plain', 'application/vnd.api+json',
    ),
    { freq: 6 },
  );
  // Mostly the right credentials, so that the other headers are looked at too.
  const authorization = fc.oneof(
    { weight: 3, arbitrary: fc.constant(target.token ? [`Bearer ${token}`] : []) },
    {
      weight: 1,
      arbitrary: fc.array(
        fc.constantFrom('', 'Bearer', 'Bearer ', `Bearer ${token}`, `bearer ${token}`, `Bearer  ${token}`, `Bearer ${token} `, `Bearer ${token}x`, `Bearer ${token.slice(0, -1)}`, 'Basic YTpi', `Bearer ${'A'.repeat(8000)}`, 'Bearer ÿþ', 'Token x', token),
        { maxLength: 3 },
      ),
    },
  );
  const length = fc.constantFrom('right', 'none', 'short', 'long', 'negative', 'nonnumeric', 'duplicate-differ', 'duplicate-same', 'huge', 'plus', 'hex', 'spaces', 'chunked', 'length-and-chunked', 'bad-encoding');
  const extra = fc.array(
    fc.oneof(
      fc.constantFrom<[string, string]>(
        ['Expect', '100-continue'], ['Expect', 'nonsense'], ['X-Forwarded-For', '1.2.3.4'], ['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Content-Encoding', 'gzip'],
        ['Accept', 'text/html'], ['Accept-Encoding', 'gzip, br, *'], ['Host', 'evil.example'], ['Host', ''], ['Transfer-Encoding', 'identity'], ['Range', 'bytes=0-1'],
        ['Connection', 'keep-alive'], ['Content-Type', 'text/plain'], ['Authorization', `Bearer ${token}`], ['X-Request-Id', '../../etc/passwd'],
      ),
      fc.integer({ min: 8_000, max: 100_000 }).map((n): [string, string] => ['X-Huge', 'a'.repeat(n)]),
      fc.integer({ min: 1_000, max: 20_000 }).map((n): [string, string] => [`X-${'n'.repeat(n)}`, '1']),
      fc.string({ unit: 'binary-ascii', maxLength: 40 }).map((v): [string, string] => ['X-Odd', v.replace(/[\r\n]/g, '')]),
    ),
    { maxLength: 3 },
  );
  const manyHeaders = sometimes(fc.integer({ min: 100, max: 3000 }), 8);
  return fc
    .tuple(routedBody(target, ['/v1/search', '/v1/context'] as const), contentType, authorization, length, extra, manyHeaders, fc.boolean())
    .map(([{ route, body }, type, auth, framing, more, many, withHost]) => {
      const bytes = Buffer.from(JSON.stringify(body));
      const headers: [string, string][] = [
        ...(withHost ? [['Host', '127.0.0.1'] as [string, string]] : []),
        ['Connection', 'close'],
        ...(type === null ? [] : [['Content-Type', type] as [string, string]]),
        ...auth.map((a): [string, string] => ['Authorization', a]),
        ...more,
        ...Array.from({ length: many ?? 0 }, (_, i): [string, string] => [`X-Many-${i}`, String(i)]),
      ];
      const parts: RequestParts = { method: 'POST', target: route, headers, body: bytes };
      const n = bytes.length;
      const lengths: Record<string, Partial<RequestParts>> = {
        right: {},
        none: { framing: 'none' },
        short: { lengths: [String(Math.max(0, n - 5))] },
        long: { lengths: [String(n + 50)] },
        negative: { lengths: ['-5'] },
        nonnumeric: { lengths: ['abc'] },
        'duplicate-differ': { lengths: [String(n), String(n + 1)] },
        'duplicate-same': { lengths: [String(n), String(n)] },
        huge: { lengths: ['99999999999999999999'] },
        plus: { lengths: [`+${n}`] },
        hex: { lengths: [`0x${n.toString(16)}`] },
        spaces: { lengths: [` ${n} `] },
        chunked: { framing: 'chunked' },
        'length-and-chunked': { framing: 'chunked', headers: [...headers, ['Content-Length', String(n)]] },
        'bad-encoding': { framing: 'chunked', headers: [...headers, ['Transfer-Encoding', 'gzip']] },
      };
      return httpCase('headers', { ...parts, ...lengths[framing] }, { route, incomplete: framing === 'long' });
    });
}

/** Methods and request targets off the map: traversal, bad percent-encoding, odd query strings, long paths. */
function oddTargets(target: FuzzTarget): fc.Arbitrary<HttpCase> {
  const method = fc.constantFrom('GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'CONNECT', 'PROPFIND', 'SEARCH', 'BREW');
  const fixed = fc.constantFrom(
    '/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/v1/../v1/search', '//v1//search', '/v1/search/', '/v1/search?x=%zz', '/v1/symbols?q=%ff%fe', '/v1/symbols?q=a&q=b',
    '/v1/symbols?q=', '/v1/symbols', '/v1/symbols?q=x&k=0', '/v1/symbols?q=x&k=99999', '/v1/symbols?q=x&k=-1', '/v1/symbols?q=x&k=1e3', '/v1/symbols?q=x&constructor=1&__proto__[a]=1',
    '/%00', '/%', '/%zz', '/%c0%af', '*', 'http://evil.example/healthz', '/healthz#frag', '/healthz?', '/healthz;x', '/v1/providers/%2e%2e/context', '/v1/providers//context',
    '/v1/providers/%00/context', '/docs/json/../../etc/passwd', '/\\..\\..\\etc\\passwd', '/v1/SEARCH', '/V1/search', '127.0.0.1:22', '/v1/symbols?q=%E2%80%AE%00',
  );
  const generated = fc.oneof(
    fc.integer({ min: 1_000, max: 100_000 }).map((n) => `/${'a'.repeat(n)}`),
    fc.tuple(hostileText, fc.option(hostileValue, { freq: 2 })).map(([q, k]) => `/v1/symbols?q=${percentEncode(q)}${k === null ? '' : `&k=${percentEncode(String(k))}`}`),
    hostileText.map((name) => `/v1/providers/${percentEncode(name)}/context`),
    fc.string({ unit: 'binary', maxLength: 40 }).map((raw) => `/${raw}`),
  );
  return fc.tuple(method, fc.oneof(fixed, generated), jsonBody('/v1/search', target)).map(([m, path, { body }]) =>
    httpCase('target', { method: m, target: path, headers: standardHeaders(target, ['POST', 'PUT', 'PATCH'].includes(m)), body: ['POST', 'PUT', 'PATCH'].includes(m) ? Buffer.from(JSON.stringify(body)) : undefined }),
  );
}

/** Bytes that are barely HTTP, or not at all. */
function brokenFraming(): fc.Arbitrary<HttpCase> {
  const json = 'POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n';
  const whole = fc.constantFrom(
    'GET /healthz HTTP/1.0\r\n\r\n', 'GET /healthz\r\n\r\n', 'GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n', 'GET /healthz HTTP/1.1\nHost: x\n\n', 'get /healthz HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n', 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n',
    'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', '\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003',
    'GET /healthz HTTP/1.1\r\n\r\n', 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\n\r\n', 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
    `${json}Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\n{"que\r\n8\r\nry":"x"}\r\n0\r\n\r\n`, `${json}Transfer-Encoding: chunked\r\n\r\nZZ\r\n{"query":"x"}\r\n0\r\n\r\n`,
    `${json}Transfer-Encoding: gzip\r\n\r\nabc`, `${json}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n`, 'GET * HTTP/1.1\r\nHost: x\r\n\r\n',
    'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n', `${json}Expect: 100-continue\r\nContent-Length: 13\r\n\r\n{"query":"x"}`, 'GET /\u0000 HTTP/1.1\r\nHost: x\r\n\r\n', 'GET /\u00ff HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', '\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', `${json}Content-Length: 13\r\n\r\n{"query":"x"}GARBAGE`,
  );
  // Requests cut short: only the end of the connection says that nothing more is coming.
  const cut = fc.constantFrom('GET /healthz HTTP/1.1\r\nHost: x\r\n', 'GET /heal', 'G', `${json}Transfer-Encoding: chunked\r\n\r\n5\r\n{"que\r\n`, `${json}Content-Length: 50\r\n\r\n{"query":`);
  return fc.oneof(
    { weight: 3, arbitrary: whole.map((t) => rawCase('framing', Buffer.from(t, 'latin1'), false)) },
    { weight: 1, arbitrary: cut.map((t) => rawCase('framing', Buffer.from(t, 'latin1'), true)) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 2000 }).map((bytes) => rawCase('framing', Buffer.from(bytes), true)) },
  );
}

/** Bodies of about 10 MB, ten times the limit: declared, chunked, or behind a lying Content-Length. */
function hugeBodies(target: FuzzTarget): fc.Arbitrary<HttpCase> {
  return fc.tuple(fc.constantFrom('length', 'chunked', 'json-string', 'lying-length'), fc.integer({ min: HUGE_BODY - 1024, max: HUGE_BODY })).map(([kind, size]) => {
    const body = kind === 'json-string' ? Buffer.from(`{"query":"${'a'.repeat(size)}"}`) : Buffer.alloc(size, 'a');
    const parts: RequestParts = { method: 'POST', target: '/v1/search', headers: standardHeaders(target), body, framing: kind === 'chunked' ? 'chunked' : 'length', lengths: kind === 'lying-length' ? ['13'] : undefined };
    return httpCase('huge', parts, { route: '/v1/search' });
  });
}

/** Every kind of hostile HTTP request, weighted so that most reach a route's handler. */
export function hostileRequests(target: FuzzTarget): fc.Arbitrary<HttpCase> {
  return fc.oneof(
    { weight: 50, arbitrary: apiCalls(target) },
    { weight: 15, arbitrary: brokenBodies(target) },
    { weight: 15, arbitrary: headerAbuse(target) },
    { weight: 12, arbitrary: oddTargets(target) },
    { weight: 6, arbitrary: brokenFraming() },
    { weight: 1, arbitrary: hugeBodies(target) },
  );
}

/** How long an incomplete request waits for an answer before the sender ends its side. */
const INCOMPLETE_AFTER_MS = 300;

/** Sends one request on its own connection and reads the first final answer (an interim 100 Continue is skipped). */
export function sendHttp(address: { host: string; port: number }, c: HttpCase, timeoutMs = 30_000): Promise<HttpOutcome> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    let socketError: string | undefined;
    const socket = net.connect(address.port, address.host);
    const finish = (outcome: HttpOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(stop);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ failure: `no answer in ${timeoutMs / 1000} s` }), timeoutMs);
    let stop: NodeJS.Timeout | undefined;
    socket.on('connect', () => {
      socket.write(c.bytes);
      if (c.incomplete) stop = setTimeout(() => socket.end(), INCOMPLETE_AFTER_MS);
    });
    socket.on('data', (data: Buffer) => {
      chunks.push(data);
      const answer = parseAnswer(Buffer.concat(chunks), c.method === 'HEAD', false);
      if (answer) finish({ answer });
    });
    // Writing the rest of a body the server has refused fails; its answer may have come already.
    socket.on('error', (err: NodeJS.ErrnoException) => (socketError = err.code ?? err.message));
    socket.on('close', () => {
      const received = Buffer.concat(chunks);
      const answer = parseAnswer(received, c.method === 'HEAD', true);
      if (answer) finish({ answer });
      else if (received.length) finish({ failure: `an answer that is not HTTP: ${JSON.stringify(received.subarray(0, 200).toString('latin1'))}` });
      else finish({ failure: `closed without an answer${socketError ? ` (${socketError})` : ''}` });
    });
  });
}

function parseAnswer(received: Buffer, head: boolean, closed: boolean): HttpAnswer | undefined {
  let start = 0;
  for (;;) {
    const end = received.indexOf('\r\n\r\n', start);
    if (end < 0) return undefined;
    const [statusLine, ...lines] = received.subarray(start, end).toString('latin1').split('\r\n');
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '');
    if (!status) return undefined;
    const code = Number(status[1]);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      headers[name] = headers[name] === undefined ? line.slice(colon + 1).trim() : `${headers[name]}, ${line.slice(colon + 1).trim()}`;
    }
    const bodyStart = end + 4;
    if (code < 200) {
      start = bodyStart;
      continue;
    }
    if (head || code === 204 || code === 304) return { status: code, headers, body: Buffer.alloc(0) };
    if (headers['transfer-encoding']?.includes('chunked')) {
      const body = dechunk(received.subarray(bodyStart));
      return body && { status: code, headers, body };
    }
    if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      return received.length - bodyStart >= length ? { status: code, headers, body: received.subarray(bodyStart, bodyStart + length) } : undefined;
    }
    return closed ? { status: code, headers, body: received.subarray(bodyStart) } : undefined;
  }
}

/** A chunked body, or undefined while its last chunk has not arrived. */
function dechunk(data: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = Number.parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) return undefined;
    if (size === 0) return Buffer.concat(parts);
    if (data.length < lineEnd + 2 + size + 2) return undefined;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

/** What is wrong with an error body, if anything: the contract wants `{"error":{"code","message"}}`. */
export function errorShapeProblem(body: Buffer | string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString());
  } catch {
    return `not JSON: ${JSON.stringify(body.toString().slice(0, 200))}`;
  }
  const error = (parsed as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (typeof error?.code !== 'string' || !error.code || typeof error.message !== 'string' || !error.message) return `not {"error":{"code","message"}}: ${JSON.stringify(parsed).slice(0, 200)}`;
  return undefined;
}

/** What is wrong with the answer to a case, if anything. */
export function judgeHttp(c: HttpCase, outcome: HttpOutcome): string | undefined {
  if ('failure' in outcome) {
    // Bytes with no request in them (only line breaks) have nothing to answer.
    return /[^\r\n]/.test(c.bytes.toString('latin1')) ? outcome.failure : undefined;
  }
  const { status, headers, body } = outcome.answer;
  if (status >= 500) return `status ${status}: ${body.toString().slice(0, 300)}`;
  if (status >= 400) {
    const problem = c.method === 'HEAD' ? undefined : errorShapeProblem(body);
    return problem && `status ${status}, body ${problem}`;
  }
  if (c.mustRefuse) return `status ${status}: a window for a file outside the indexed root`;
  if (status !== 200 || c.method === 'HEAD' || !/json/.test(headers['content-type'] ?? '')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString());
  } catch {
    return 'status 200 with a body that is not JSON';
  }
  if (c.route === '/v1/search' || c.route === '/v1/symbols') return resultsProblem((parsed as { results?: unknown }).results);
  if (c.route === '/v1/context') return windowProblem(parsed);
  return undefined;
}

/** What is wrong with a list of result items, if anything: the contract's fields, paths inside the root. */
export function resultsProblem(results: unknown): string | undefined {
  if (!Array.isArray(results)) return 'results is not a list';
  for (const item of results as Record<string, unknown>[]) {
    const bad =
      typeof item.path !== 'string' || item.path.startsWith('/') || item.path.split('/').includes('..') ||
      !Number.isInteger(item.startLine) || (item.startLine as number) < 1 || !Number.isInteger(item.endLine) || (item.endLine as number) < (item.startLine as number) ||
      typeof item.name !== 'string' || typeof item.symbol !== 'string' || typeof item.kind !== 'string' || typeof item.score !== 'number';
    if (bad) return `a result item out of the contract: ${JSON.stringify(item).slice(0, 300)}`;
  }
  return undefined;
}

function windowProblem(window: unknown): string | undefined {
  const w = window as { items?: unknown; tokens?: unknown; budget?: unknown; text?: unknown };
  if (typeof w.tokens !== 'number' || typeof w.budget !== 'number' || typeof w.text !== 'string') return `a window without tokens, budget and text: ${JSON.stringify(window).slice(0, 300)}`;
  if (w.tokens > w.budget) return `a window over its budget: ${w.tokens} > ${w.budget}`;
  return resultsProblem(w.items);
}

// ---------------------------------------------------------------------------------------------
// Tallies

/** Statuses and problems of a fuzz run. */
export class FuzzTally {
  tried = 0;
  readonly statuses = new Map<string, number>();
  readonly problems: { family: string; problem: string; request: string }[] = [];

  record(family: string, status: string, problem: string | undefined, request: () => string): void {
    this.tried++;
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    if (problem) this.problems.push({ family, problem, request: request() });
  }

  count(predicate: (status: string) => boolean): number {
    let n = 0;
    for (const [status, times] of this.statuses) if (predicate(status)) n += times;
    return n;
  }

  get fiveXX(): number {
    return this.count((s) => /^5\d\d$/.test(s));
  }

  /** `200: 5123, 400: 9001, …` in status order. */
  histogram(): string {
    return [...this.statuses].sort(([a], [b]) => a.localeCompare(b)).map(([status, n]) => `${status}: ${n}`).join(', ');
  }
}

/** The status an outcome is counted under. */
export function statusOf(outcome: HttpOutcome): string {
  return 'answer' in outcome ? String(outcome.answer.status) : 'no answer';
}

export function describeCase(c: HttpCase): string {
  return `${c.family}: ${JSON.stringify(c.bytes.subarray(0, 300).toString('latin1'))}${c.bytes.length > 300 ? ` … (${c.bytes.length} bytes)` : ''}`;
}

// ---------------------------------------------------------------------------------------------
// MCP

/** One JSON-RPC request to `codesearch mcp` (answered), or a line that is not one (unanswered). */
export type McpCase = { family: string; method: string; params: string; mustRefuse: boolean } | { family: 'garbage'; line: string };

const TOOLS = ['search', 'context', 'symbol'] as const;

function toolArguments(tool: (typeof TOOLS)[number], target: FuzzTarget): fc.Arbitrary<{ args: Record<string, unknown>; outside: boolean }> {
  const inside = (model: fc.Arbitrary<Record<string, unknown>>) => model.map((args) => ({ args, outside: false }));
  switch (tool) {
    case 'search':
      return inside(fc.record({ query: field(query(target), 6), k: field(fc.integer({ min: 1, max: 50 })), mode: field(fc.constantFrom('hybrid', 'lexical', 'vector')) }, { requiredKeys: ['query'] }));
    case 'symbol':
      return inside(fc.record({ name: field(identifier, 6), k: field(fc.integer({ min: 1, max: 50 })) }, { requiredKeys: ['name'] }));
    case 'context':
      return fc
        .record(
          { prompt: field(query(target), 6), file: fileField(target), line: field(fc.integer({ min: 1, max: 500 })), errors: field(buildErrors(target.files), 3), budget: field(fc.integer({ min: 50, max: 4000 })) },
          { requiredKeys: ['prompt'] },
        )
        .map(({ file, ...rest }) => ({ args: file ? { ...rest, file: file.file } : rest, outside: file?.outside ?? false }));
  }
}

/** Hostile MCP traffic: tool calls with hostile arguments, odd tools and methods, and lines that are not JSON-RPC. */
export function hostileMcpCalls(target: FuzzTarget): fc.Arbitrary<McpCase> {
  const calls = fc.oneof(
    ...TOOLS.map((tool) => toolArguments(tool, target).map(({ args, outside }) => ({ family: 'arguments', method: 'tools/call', params: JSON.stringify({ name: tool, arguments: args }), mustRefuse: outside && tool === 'context' }))),
  );
  const oddCalls = fc.oneof(
    fc.tuple(fc.oneof(fc.constantFrom('', 'search ', 'SEARCH', '__proto__', 'constructor', 'toString', 'context/../search'), hostileText), hostileValue).map(([name, args]) => JSON.stringify({ name, arguments: args })),
    fc.tuple(fc.constantFrom(...TOOLS), hostileValue).map(([name, args]) => JSON.stringify({ name, arguments: args })),
    fc.constantFrom(...TOOLS).map((name) => JSON.stringify({ name })),
    fc.tuple(fc.constantFrom(...TOOLS), fc.constantFrom(['[', ']'], ['{"a":', '}']), fc.integer({ min: 100, max: 100_000 })).map(([name, [open, close], depth]) => `{"name":"${name}","arguments":{"query":"x","prompt":"x","name":"x","k":${open!.repeat(depth)}1${close!.repeat(depth)}}}`),
    fc.constantFrom('{}', '{"name":null}', '{"name":"search","arguments":{"query":"x","k":1e999}}', '{"name":"search","arguments":{"__proto__":{"query":"x"}}}'),
  ).map((params) => ({ family: 'tools', method: 'tools/call', params, mustRefuse: false }));
  const methods = fc
    .tuple(fc.constantFrom('tools/list', 'ping', 'resources/list', 'prompts/list', 'nope', 'initialize', '', 'tools/call ', 'notifications/initialized', 'logging/setLevel'), fc.constantFrom('{}', '{"level":"debug"}', '{"cursor":"\\ud800"}'))
    .map(([method, params]) => ({ family: 'methods', method, params, mustRefuse: false }));
  // Lines the SDK's transport refuses as JSON-RPC (unanswered, even with an id: params must be an object).
  const garbage = fc
    .oneof(
      fc.constantFrom('', '{', 'null', '[]', '{"jsonrpc":"2.0"}', '{"jsonrpc":"2.0","method":"tools/call"}', '{"jsonrpc":"1.0","method":"ping"}', '\u0000', '\ud800', '{"jsonrpc":"2.0","result":{}}'),
      fc.tuple(fc.constantFrom('tools/call', 'ping', 'tools/list'), fc.constantFrom('null', '[]', '"x"', '5', '[{"name":"search"}]')).map(([method, params]) => `{"jsonrpc":"2.0","id":"unanswered","method":"${method}","params":${params}}`),
      fc.string({ unit: 'binary', maxLength: 500 }),
      fc.integer({ min: 100_000, max: 2_000_000 }).map((n) => `{"jsonrpc":"2.0","method":"x","params":"${'a'.repeat(n)}"`),
    )
    .map((line) => ({ family: 'garbage' as const, line: line.replace(/[\r\n]/g, ' ') }));
  return fc
    .oneof({ weight: 12, arbitrary: calls }, { weight: 3, arbitrary: oddCalls }, { weight: 1, arbitrary: methods }, { weight: 1, arbitrary: garbage })
    .map((c: McpCase) => Object.assign(c, { [fc.toStringMethod]: () => describeMcpCase(c) }));
}

type JsonRpcAnswer = { result?: { content?: unknown; isError?: boolean; structuredContent?: unknown }; error?: { code?: unknown; message?: unknown } };

/** What is wrong with an MCP answer, if anything: a tool error or a valid result; an internal error is the server's fault. */
function judgeMcp(c: Exclude<McpCase, { family: 'garbage' }>, answer: JsonRpcAnswer | undefined): string | undefined {
  if (!answer) return 'no answer';
  if (answer.error) return typeof answer.error.code === 'number' && typeof answer.error.message === 'string' ? undefined : `a JSON-RPC error out of shape: ${JSON.stringify(answer.error).slice(0, 200)}`;
  if (!answer.result) return `neither result nor error: ${JSON.stringify(answer).slice(0, 200)}`;
  if (c.method !== 'tools/call') return undefined;
  const content = answer.result.content as { type?: unknown; text?: unknown }[] | undefined;
  if (!Array.isArray(content) || !content.every((part) => part.type === 'text' && typeof part.text === 'string')) return `a tool result without text content: ${JSON.stringify(answer.result).slice(0, 200)}`;
  if (answer.result.isError) return /^internal error/.test(String(content[0]?.text)) ? `${String(content[0]!.text).slice(0, 300)}` : undefined;
  if (c.mustRefuse) return 'a window for a file outside the indexed root';
  const data = answer.result.structuredContent as { results?: unknown; items?: unknown } | undefined;
  if (!data || typeof data !== 'object') return 'a tool result without structuredContent';
  return 'results' in data ? resultsProblem(data.results) : windowProblem(data);
}

/** `codesearch mcp` as a child process, spoken to in raw JSON-RPC lines over stdio. */
export class McpSession {
  private pending = '';
  private readonly waiting = new Map<number, (answer: JsonRpcAnswer | undefined) => void>();
  private nextId = 1;
  /** How the process ended, once it has. */
  exit: string | undefined;
  private stderr = '';

  private constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (data: string) => {
      this.pending += data;
      for (let newline = this.pending.indexOf('\n'); newline >= 0; newline = this.pending.indexOf('\n')) {
        const line = this.pending.slice(0, newline);
        this.pending = this.pending.slice(newline + 1);
        let message: { id?: unknown } & JsonRpcAnswer;
        try {
          message = JSON.parse(line);
        } catch {
          continue;
        }
        if (typeof message.id === 'number') this.waiting.get(message.id)?.(message);
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (data: string) => (this.stderr = (this.stderr + data).slice(-4000)));
    // A child that died mid-write is reported by `exit`, not by a crash of this process.
    child.stdin!.on('error', () => {});
    child.on('exit', (code, signal) => {
      this.exit = `exited with ${signal ?? code}: ${this.stderr.trim().split('\n').slice(-3).join(' | ')}`;
      for (const resolve of this.waiting.values()) resolve(undefined);
    });
  }

  /** Starts `node CLI mcp ARGS` and initializes the session. */
  static async start(cli: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<McpSession> {
    const session = new McpSession(spawn(process.execPath, [cli, 'mcp', ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] }));
    const init = await session.request('initialize', JSON.stringify({ protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'codesearch-fuzz', version: '1' } }), 60_000);
    if (!init?.result) throw new Error(`codesearch mcp did not initialize: ${session.exit ?? JSON.stringify(init)}`);
    session.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    return session;
  }

  /** Sends a request; resolves its answer, or undefined when none came in time or the process ended. */
  request(method: string, params: string, timeoutMs = 30_000): Promise<JsonRpcAnswer | undefined> {
    if (this.exit) return Promise.resolve(undefined);
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(undefined), timeoutMs);
      const done = (answer: JsonRpcAnswer | undefined) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(answer);
      };
      this.waiting.set(id, done);
      this.send(`{"jsonrpc":"2.0","id":${id},"method":${JSON.stringify(method)},"params":${params}}`);
    });
  }

  send(line: string): void {
    if (!this.exit) this.child.stdin!.write(`${line}\n`);
  }

  /** Runs one case: the problem with its answer, if any (a garbage line is followed by a ping that must be answered). */
  async run(c: McpCase, timeoutMs = 30_000): Promise<{ status: string; problem?: string }> {
    if ('line' in c) {
      this.send(c.line);
      const pong = await this.request('ping', '{}', timeoutMs);
      return pong?.result ? { status: 'ignored' } : { status: 'no answer', problem: `no answer to a ping after a garbage line${this.exit ? `: ${this.exit}` : ''}` };
    }
    const answer = await this.request(c.method, c.params, timeoutMs);
    const problem = judgeMcp(c, answer);
    const status = !answer ? 'no answer' : answer.error ? 'rpc error' : answer.result?.isError ? 'tool error' : 'result';
    return { status, problem: problem && this.exit ? `${problem}: ${this.exit}` : problem };
  }

  close(): void {
    this.child.stdin!.end();
    this.child.kill('SIGTERM');
  }
}

export function describeMcpCase(c: McpCase): string {
  const text = 'line' in c ? c.line : `${c.method} ${c.params}`;
  return `${c.family}: ${JSON.stringify(text.slice(0, 300))}${text.length > 300 ? ` … (${text.length} characters)` : ''}`;
}
