// The HTTP API on a real server on 127.0.0.1 (port 0) over a real index: every route, and what a
// hostile or careless client sends gets a 4xx in the contract's error shape, never a 5xx.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { indexRepo } from '../indexer/pipeline.js';
import { Searcher } from '../server/search.js';
import { ContextBuilder } from '../server/context/build.js';
import { buildApp } from '../server/http/app.js';
import { cleanupTempDirs, copyFixture, indexedFixture, makeTempDir, runCli, SERVING, startCli } from './helpers.js';

let root: string;
let db: string;
let searcher: Searcher;
let app: FastifyInstance;
let base: string;

async function serve(token?: string): Promise<{ app: FastifyInstance; base: string }> {
  const server = await buildApp({ searcher, builder: await ContextBuilder.create(searcher), root, token });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const address = server.server.address() as { port: number };
  return { app: server, base: `http://127.0.0.1:${address.port}` };
}

beforeAll(async () => {
  ({ root, db } = await indexedFixture('shop'));
  searcher = await Searcher.open(db, { resident: true });
  ({ app, base } = await serve());
});

afterAll(async () => {
  await app?.close();
  searcher?.close();
  cleanupTempDirs();
});

const post = (route: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}${route}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

async function expectError(response: Response, status: number, code = 'bad_request'): Promise<string> {
  expect(response.status).toBe(status);
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
  return body.error.message;
}

describe('routes', () => {
  it('GET /healthz', async () => {
    const r = await fetch(`${base}/healthz`);
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ status: 'ok', chunks: expect.any(Number), embedder: expect.stringMatching(/^static-/), vectors: 'complete', indexedAt: expect.any(String) });
  });

  it('POST /v1/search answers results in the contract shape, with a requestId', async () => {
    const r = await post('/v1/search', { query: 'Cart.total', k: 2 });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { results: { symbol: string; path: string }[]; requestId: string };
    expect(body.results).toHaveLength(2);
    expect(body.results.map((x) => x.path).sort()).toEqual(['src/cart.ml', 'src/cart.mli']);
    expect(body.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const lexical = (await (await post('/v1/search', { query: 'total price of a cart', mode: 'lexical' })).json()) as { results: { name: string }[] };
    expect(lexical.results[0]?.name).toBe('total');
  });

  it('POST /v1/search folds a definition and its declaration into one result, or shows both with pairs: separate', async () => {
    type Listed = { results: { name: string; path: string; counterpart?: { path: string } }[] };
    const folded = ((await (await post('/v1/search', { query: 'total price of a cart' })).json()) as Listed).results.filter((r) => r.name === 'total');
    expect(folded).toHaveLength(1);
    expect([folded[0]!.path, folded[0]!.counterpart?.path].sort()).toEqual(['src/cart.ml', 'src/cart.mli']);
    const separate = ((await (await post('/v1/search', { query: 'total price of a cart', pairs: 'separate' })).json()) as Listed).results.filter((r) => r.name === 'total');
    expect(separate.map((r) => r.path).sort()).toEqual(['src/cart.ml', 'src/cart.mli']);
    expect(separate.every((r) => r.counterpart === undefined)).toBe(true);
  });

  it('POST /v1/search with explain: each result says what its score is made of', async () => {
    type Explained = { results: { name: string; score: number; explain?: { signal: string; points: number }[] }[] };
    const plain = (await (await post('/v1/search', { query: 'total price of a cart' })).json()) as Explained;
    expect(plain.results.every((r) => r.explain === undefined)).toBe(true);
    const explained = (await (await post('/v1/search', { query: 'total price of a cart', explain: true })).json()) as Explained;
    expect(explained.results.map((r) => r.name)).toEqual(plain.results.map((r) => r.name));
    for (const r of explained.results) {
      expect(r.explain!.length).toBeGreaterThan(0);
      expect(r.explain!.reduce((sum, p) => sum + p.points, 0)).toBeCloseTo(r.score, 2);
    }
    expect(explained.results[0]!.explain!.map((p) => p.signal)).toContain('fulltext');
  });

  it('POST /v1/context returns a window within budget, anchored at file and line', async () => {
    const r = await post('/v1/context', { prompt: 'add a discount to the total', budget: 600, file: 'src/checkout.ml', line: 3 });
    expect(r.status).toBe(200);
    const w = (await r.json()) as { items: { reason: string; symbol: string }[]; tokens: number; budget: number; text: string; requestId: string };
    expect(w.budget).toBe(600);
    expect(w.tokens).toBeLessThanOrEqual(600);
    expect(w.items[0]).toMatchObject({ reason: 'cursor', symbol: 'Shop.Checkout.charge' });
    expect(w.text).toContain('### src/checkout.ml:2-5');
  });

  it('POST /v1/providers/continue answers Continue\'s http context provider', async () => {
    const r = await post('/v1/providers/continue', { query: 'add a discount to Cart.total', fullInput: 'please add a discount to Cart.total' });
    expect(r.status).toBe(200);
    const items = (await r.json()) as { name: string; description: string; content: string }[];
    expect(items[0]).toMatchObject({ name: 'src/cart.mli:16-16', description: 'Shop.Cart.total (match)' });
    expect(items[0]!.content).toContain('val total : t -> int');
    await expectError(await post('/v1/providers/continue', {}), 400);
    await expectError(await post('/v1/providers/continue', { query: '  ' }), 400);
  });

  it('GET /v1/symbols?q= looks a name up', async () => {
    const r = await fetch(`${base}/v1/symbols?q=${encodeURIComponent('Cart.add')}`);
    expect(r.status).toBe(200);
    const body = (await r.json()) as { results: { symbol: string }[] };
    expect(body.results.slice(0, 2).map((x) => x.symbol)).toEqual(['Shop.Cart.add', 'Shop.Cart.add']);
    await expectError(await fetch(`${base}/v1/symbols?q=${encodeURIComponent('two words')}`), 400);
  });
});

describe('operations', () => {
  it('GET /metrics counts and times requests per route, in Prometheus text', async () => {
    await post('/v1/search', { query: 'Cart.total' });
    await post('/v1/search', {});
    const r = await fetch(`${base}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await r.text();
    expect(text).toMatch(/codesearch_http_requests_total\{route="\/v1\/search",method="POST",status="200"\} [1-9]/);
    expect(text).toMatch(/codesearch_http_requests_total\{route="\/v1\/search",method="POST",status="400"\} [1-9]/);
    expect(text).toMatch(/codesearch_http_request_duration_seconds_bucket\{le="0.05",route="\/v1\/search"\}/);
    // The bounded caches the searcher's versions share are the ones LanceDB fills (a session it
    // was handed the wrong way stayed empty, and every version made unbounded caches of its own).
    const cached = Number(/^codesearch_index_cache_bytes (\d+)/m.exec(text)?.[1]);
    expect(cached).toBeGreaterThan(10_000);
  });

  it('GET /docs/json is the OpenAPI document of the routes and their schemas', async () => {
    const doc = (await (await fetch(`${base}/docs/json`)).json()) as { openapi: string; paths: Record<string, Record<string, { requestBody?: unknown }>> };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/search', '/v1/context', '/v1/symbols', '/healthz']));
    expect(JSON.stringify(doc.paths['/v1/search']!.post!.requestBody)).toContain('"query"');
  });
});

describe('bad requests get a 4xx with the contract error shape', () => {
  it.each([
    ['invalid JSON', '{"query": '],
    ['a missing field', {}],
    ['a wrong type', { query: 42 }],
    ['a blank query', { query: '   ' }],
    ['k of 0', { query: 'x', k: 0 }],
    ['a huge k', { query: 'x', k: 1e12 }],
    ['a fractional k', { query: 'x', k: 2.5 }],
    ['an unknown mode', { query: 'x', mode: 'psychic' }],
    ['an unknown field', { query: 'x', bogus: true }],
    ['explain that is not a boolean', { query: 'x', explain: 'yes' }],
    ['an unknown pairing', { query: 'x', pairs: 'both' }],
    ['an array body', ['x']],
    ['deeply nested JSON', `{"query":"x","k":${'['.repeat(5000)}${']'.repeat(5000)}}`],
  ])('/v1/search with %s', async (_what, body) => {
    await expectError(await post('/v1/search', body), 400);
  });

  it.each([
    ['a negative budget', { prompt: 'x', budget: -1 }],
    ['a huge budget', { prompt: 'x', budget: 1e9 }],
    ['a line without a file', { prompt: 'x', line: 3 }],
    ['../ in file', { prompt: 'x', file: '../../../etc/passwd' }],
    ['an absolute file', { prompt: 'x', file: '/etc/passwd' }],
    ['a percent-encoded ../', { prompt: 'x', file: '%2e%2e/%2e%2e/etc/passwd' }],
    ['a NUL byte', { prompt: 'x', file: 'src/cart.ml\u0000.txt' }],
    ['a file not in the index', { prompt: 'x', file: 'src/nope.ml', line: 1 }],
  ])('/v1/context with %s', async (_what, body) => {
    await expectError(await post('/v1/context', body), 400);
  });

  it('refuses a file reached through a symlink that leaves the root', async () => {
    const outside = makeTempDir('cs-outside-');
    fs.writeFileSync(path.join(outside, 'secret.ml'), 'let secret = 1\n');
    fs.symlinkSync(outside, path.join(root, 'src', 'escape'));
    try {
      expect(await expectError(await post('/v1/context', { prompt: 'x', file: 'src/escape/secret.ml' }), 400)).toMatch(/outside the indexed root/);
    } finally {
      fs.unlinkSync(path.join(root, 'src', 'escape'));
    }
  });

  it('answers 413 for a body over the limit, 404 for an unknown route, 415 for a non-JSON body', async () => {
    await expectError(await post('/v1/search', JSON.stringify({ query: 'x'.repeat(2 * 1024 * 1024) })), 413, 'payload_too_large');
    await expectError(await fetch(`${base}/v1/nope`), 404, 'not_found');
    await expectError(await fetch(`${base}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<query/>' }), 415, 'unsupported_media_type');
    // Still answering afterwards.
    expect((await post('/v1/search', { query: 'Cart.total' })).status).toBe(200);
  });
});

describe('live index', () => {
  it('answers every request while `index` updates the db, and serves the new version after', async () => {
    const liveRoot = copyFixture('shop');
    const liveDb = path.join(makeTempDir('cs-db-'), 'index');
    await indexRepo({ root: liveRoot, db: liveDb });
    const liveSearcher = await Searcher.open(liveDb, { resident: true });
    const live = await buildApp({ searcher: liveSearcher, builder: await ContextBuilder.create(liveSearcher), root: liveRoot });
    await live.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(live.server.address() as { port: number }).port}`;
    const statuses: number[] = [];
    // What went wrong, should anything: the status alone says too little to fix a rare failure.
    const failures: string[] = [];
    let running = true;
    const loop = (async () => {
      while (running) {
        const r = await fetch(`${url}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"total price of a cart"}' });
        const body = await r.text();
        statuses.push(r.status);
        if (r.status !== 200) failures.push(`${r.status} ${body.slice(0, 300)}`);
      }
    })();
    try {
      for (let i = 1; i <= 3; i++) {
        fs.appendFileSync(path.join(liveRoot, 'src/cart.ml'), `let added_${i} x = x + ${i}\n`);
        // Each run re-learns the model of this small corpus and cleans up old table versions.
        await indexRepo({ root: liveRoot, db: liveDb });
        // The server looks for a new version at most once a second and loads it in the background.
        let name: string | undefined;
        for (const deadline = Date.now() + 10_000; name !== `added_${i}` && Date.now() < deadline; ) {
          await new Promise((r) => setTimeout(r, 200));
          const found = (await (await fetch(`${url}/v1/symbols?q=added_${i}`)).json()) as { results: { name: string }[] };
          name = found.results[0]?.name;
        }
        expect(name).toBe(`added_${i}`);
      }
    } finally {
      running = false;
      await loop;
      await live.close();
      liveSearcher.close();
    }
    expect(statuses.length).toBeGreaterThan(10);
    expect(failures).toEqual([]);
  });
});

describe('auth', () => {
  it('with a token, every route but /healthz needs it', async () => {
    const secured = await serve('s3cret');
    try {
      expect((await fetch(`${secured.base}/healthz`)).status).toBe(200);
      const call = (auth?: string) =>
        fetch(`${secured.base}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) }, body: '{"query":"Cart.total"}' });
      await expectError(await call(), 401, 'unauthorized');
      await expectError(await call('Bearer wrong'), 401, 'unauthorized');
      await expectError(await call('s3cret'), 401, 'unauthorized');
      expect((await call('Bearer s3cret')).status).toBe(200);
    } finally {
      await secured.app.close();
    }
  });

  it('codesearch serve refuses to bind beyond loopback without a token, and serves with one', async () => {
    const refused = await runCli(['serve', '--db', db, '--host', '0.0.0.0', '--port', '0'], { cwd: root, env: { CODESEARCH_TOKEN: undefined } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/without a token/);

    const { child, match } = await startCli(['serve', '--db', db, '--port', '0', '--token', 'tok', '-q'], SERVING);
    try {
      const url = match[1]!;
      const r = await fetch(`${url}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer tok' }, body: '{"query":"Cart.add"}' });
      expect(r.status).toBe(200);
      expect((await fetch(`${url}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"Cart.add"}' })).status).toBe(401);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('codesearch serve --no-resident answers the same from the index without keeping the chunks in memory', async () => {
    const answers = async (args: string[]) => {
      const { child, match } = await startCli(['serve', '--db', db, '--port', '0', '-q', ...args], SERVING);
      try {
        const post = async (route: string, body: object) => {
          const { requestId: _id, ...answer } = (await (await fetch(`${match[1]}/v1/${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json()) as Record<string, unknown>;
          return answer;
        };
        return [await post('search', { query: 'total price of a cart' }), await post('context', { prompt: 'add a discount to the cart total' })];
      } finally {
        child.kill('SIGTERM');
      }
    };
    const [search, context] = await answers(['--no-resident']);
    expect((search as { results: { symbol: string }[] }).results.length).toBeGreaterThan(0);
    expect(await answers([])).toEqual([search, context]);
  });
});
