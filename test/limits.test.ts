// How the HTTP API holds clients to limits, for real: `codesearch serve --rate-limit N` (a budget of
// requests a minute per client, 429 beyond it) as child processes, and slow clients — a slowloris
// sending its headers a byte at a time, a slow body, an idle connection — against a server with
// short timeouts, cut off while other clients are answered.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Searcher } from '../server/search.js';
import { ContextBuilder } from '../server/context/build.js';
import { DEFAULT_CONNECTION_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS, buildApp } from '../server/http/app.js';
import { errorShapeProblem } from '../bench/trials/fuzz-requests.js';
import { cleanupTempDirs, indexedFixture, runCli, SERVING, startCli } from './helpers.js';

let root: string;
let db: string;

beforeAll(async () => {
  ({ root, db } = await indexedFixture('shop'));
});

afterAll(() => cleanupTempDirs());

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request through node:http, which can send from another loopback address (another client). */
function request(url: string, options: { method?: string; body?: string; token?: string; from?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = options.body === undefined ? {} : { 'content-type': 'application/json' };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const req = http.request(url, { method: options.method ?? 'GET', headers, localAddress: options.from, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const search = (url: string, options: { token?: string; from?: string } = {}) => request(`${url}/v1/search`, { method: 'POST', body: '{"query":"Cart.total"}', ...options });

function expectRateLimited(answer: Answer, limit: number): void {
  expect(answer.status).toBe(429);
  expect(errorShapeProblem(answer.body)).toBeUndefined();
  expect(JSON.parse(answer.body).error).toEqual({ code: 'rate_limited', message: expect.stringContaining(`${limit} requests a minute`) });
  const retryAfter = Number(answer.headers['retry-after']);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(60);
}

describe('rate limit', () => {
  it('holds each client to --rate-limit requests a minute, then answers 429 with Retry-After; other clients and /healthz are unaffected', async () => {
    const { child, match } = await startCli(['serve', '--db', db, '--port', '0', '-q', '--rate-limit', '3'], SERVING);
    try {
      const url = match[1]!;
      for (let i = 0; i < 3; i++) {
        const answer = await search(url);
        expect(answer.status).toBe(200);
        expect(answer.headers['x-ratelimit-limit']).toBe('3');
      }
      expectRateLimited(await search(url), 3);
      // Every route counts, unknown ones too; the health check never does.
      expectRateLimited(await request(`${url}/v1/nope`), 3);
      expect((await request(`${url}/healthz`)).status).toBe(200);
      // Another address is another client.
      expect((await search(url, { from: '127.0.0.2' })).status).toBe(200);
      // The OpenAPI document says so.
      const doc = JSON.parse((await request(`${url}/docs/json`, { from: '127.0.0.3' })).body);
      expect(doc.info.description).toMatch(/at most 3 requests a minute per client/);
      expect(doc.paths['/v1/search'].post.responses['429'].headers['retry-after']).toBeDefined();
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('with a token, a client is its token: guesses are limited by address and do not spend the holder\'s budget', async () => {
    const { child, match } = await startCli(['serve', '--db', db, '--port', '0', '-q', '--token', 'tok', '--rate-limit', '3'], SERVING);
    try {
      const url = match[1]!;
      for (let i = 0; i < 3; i++) expect((await search(url, { token: `guess-${i}` })).status).toBe(401);
      expectRateLimited(await search(url, { token: 'guess-3' }), 3);
      for (let i = 0; i < 3; i++) expect((await search(url, { token: 'tok' })).status).toBe(200);
      expectRateLimited(await search(url, { token: 'tok' }), 3);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('is off on loopback unless asked for, on at 3000 a minute beyond it, and --rate-limit 0 turns it off', async () => {
    const [loopback, remote, remoteOff] = await Promise.all([
      startCli(['serve', '--db', db, '--port', '0', '-q'], SERVING),
      startCli(['serve', '--db', db, '--host', '0.0.0.0', '--port', '0', '-q', '--token', 'tok'], SERVING),
      startCli(['serve', '--db', db, '--host', '0.0.0.0', '--port', '0', '-q', '--token', 'tok', '--rate-limit', '0'], SERVING),
    ]);
    const local = (url: string) => url.replace('0.0.0.0', '127.0.0.1');
    try {
      const answers = await Promise.all(Array.from({ length: 30 }, () => search(loopback.match[1]!)));
      expect(answers.map((a) => a.status)).toEqual(Array(30).fill(200));
      expect(answers[0]!.headers['x-ratelimit-limit']).toBeUndefined();
      expect((await search(local(remote.match[1]!), { token: 'tok' })).headers['x-ratelimit-limit']).toBe('3000');
      const off = await search(local(remoteOff.match[1]!), { token: 'tok' });
      expect(off.status).toBe(200);
      expect(off.headers['x-ratelimit-limit']).toBeUndefined();
    } finally {
      for (const { child } of [loopback, remote, remoteOff]) child.kill('SIGTERM');
    }
    const bad = await runCli(['serve', '--db', db, '--port', '0', '--rate-limit', 'lots'], { cwd: root });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--rate-limit must be a number of requests a minute/);
    expect((await runCli(['serve', '--help'], { cwd: root })).stdout).toMatch(/--rate-limit <n>/);
  });
});

/**
 * Opens a connection, sends `head`, then `trickle` one byte every `everyMs` (never idle long
 * enough for the idle timeout); resolves when the server closes the connection.
 */
function slowClient(port: number, head: string, trickle: string, everyMs = 100): Promise<{ closedAfterMs: number; received: string }> {
  return new Promise((resolve) => {
    const started = Date.now();
    let received = '';
    let at = 0;
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(head);
      const timer = setInterval(() => {
        if (at < trickle.length && socket.writable) socket.write(trickle[at++]!);
      }, everyMs);
      socket.on('close', () => clearInterval(timer));
    });
    socket.setEncoding('latin1').on('data', (d: string) => (received += d));
    socket.on('error', () => {});
    socket.on('close', () => resolve({ closedAfterMs: Date.now() - started, received }));
    // Never cut off: the test fails on the time, not by hanging.
    setTimeout(() => socket.destroy(), 15_000).unref();
  });
}

/** The status and body of the answer in raw bytes read off a socket. */
function parseRaw(received: string): { status: number; body: string } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1]);
  return { status, body: received.slice(received.indexOf('\r\n\r\n') + 4) };
}

describe('slow clients', () => {
  const REQUEST_TIMEOUT = 1000;
  // Below the request timeout, so that an idle connection shows which of the two closed it.
  const CONNECTION_TIMEOUT = 600;
  let searcher: Searcher;
  let app: FastifyInstance;
  let port: number;

  beforeAll(async () => {
    searcher = await Searcher.open(db, { resident: true });
    app = await buildApp({ searcher, builder: await ContextBuilder.create(searcher), root, requestTimeout: REQUEST_TIMEOUT, connectionTimeout: CONNECTION_TIMEOUT });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    await app?.close();
    searcher?.close();
  });

  /** Searches while the slow clients wait: each must be answered promptly. */
  async function othersAnswered(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const started = Date.now();
      expect((await search(`http://127.0.0.1:${port}`)).status).toBe(200);
      expect(Date.now() - started).toBeLessThan(REQUEST_TIMEOUT);
      await new Promise((r) => setTimeout(r, 150));
    }
  }

  it('defaults to a 30 s idle timeout and 60 s for a whole request', async () => {
    const plain = await buildApp({ searcher, builder: await ContextBuilder.create(searcher), root });
    try {
      expect([DEFAULT_CONNECTION_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS]).toEqual([30_000, 60_000]);
      expect(plain.server.requestTimeout).toBe(DEFAULT_REQUEST_TIMEOUT_MS);
      expect(plain.server.headersTimeout).toBe(DEFAULT_REQUEST_TIMEOUT_MS);
      expect(plain.server.timeout).toBe(DEFAULT_CONNECTION_TIMEOUT_MS);
    } finally {
      await plain.close();
    }
  });

  it('cuts off slowloris clients sending their headers a byte at a time, with a 408, while answering others', async () => {
    const slow = Array.from({ length: 20 }, () => slowClient(port, 'POST /v1/search HTTP/1.1\r\nHost: x\r\n', `X-Slow: ${'a'.repeat(500)}`));
    await othersAnswered(5);
    for (const { closedAfterMs, received } of await Promise.all(slow)) {
      // Node looks for requests over time every quarter of the limit.
      expect(closedAfterMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT - 50);
      expect(closedAfterMs).toBeLessThan(REQUEST_TIMEOUT * 1.25 + 1500);
      const answer = parseRaw(received);
      expect(answer.status).toBe(408);
      expect(JSON.parse(answer.body).error.code).toBe('request_timeout');
    }
  });

  it('cuts off a client sending its body a byte at a time', async () => {
    const slow = slowClient(port, 'POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 300\r\n\r\n', `{"query":"${'a'.repeat(290)}"}`);
    await othersAnswered(3);
    const { closedAfterMs, received } = await slow;
    expect(closedAfterMs).toBeLessThan(REQUEST_TIMEOUT * 1.25 + 1500);
    expect(parseRaw(received).status).toBe(408);
  });

  it('closes a connection that sends nothing once it has been idle for the connection timeout', async () => {
    const { closedAfterMs, received } = await slowClient(port, '', '');
    expect(closedAfterMs).toBeGreaterThanOrEqual(CONNECTION_TIMEOUT - 50);
    expect(closedAfterMs).toBeLessThan(REQUEST_TIMEOUT - 50);
    expect(received).toBe('');
  });
});
