// The context-provider plugin API: codesearch's own provider in process and over HTTP (the same
// windows), selections, and a team's provider module loaded by `codesearch serve --provider`.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Searcher } from '../server/search.js';
import { ContextBuilder } from '../server/context/build.js';
import { buildApp } from '../server/http/app.js';
import { createContextProvider, ProviderError, registerContextProvider, type ContextProvider } from '../server/provider.js';
import { cleanupTempDirs, FIXTURES, indexedFixture, runCli, SERVING, startCli } from './helpers.js';

let root: string;
let db: string;
let local: ContextProvider;
let searcher: Searcher;
let app: FastifyInstance;
let base: string;

beforeAll(async () => {
  ({ root, db } = await indexedFixture('shop'));
  local = await createContextProvider({ db });
  searcher = await Searcher.open(db, { resident: true });
  app = await buildApp({ searcher, builder: await ContextBuilder.create(searcher), root });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await local?.close();
  await app?.close();
  searcher?.close();
  cleanupTempDirs();
});

const covers = (items: { path: string; startLine: number; endLine: number }[], file: string, line: number) => items.some((i) => i.path === file && i.startLine <= line && line <= i.endLine);

describe('createContextProvider', () => {
  it('opens the index in process and answers a window for an edit', async () => {
    expect(local.describe().name).toBe('codesearch');
    const w = await local.provide({ prompt: 'add a discount argument to Cart.total', budget: 2000 });
    expect(covers(w.items, 'src/cart.ml', 11)).toBe(true);
    expect(covers(w.items, 'src/cart.mli', 16)).toBe(true);
    expect(w.tokens).toBeLessThanOrEqual(2000);
  });

  it('asks a running server and gets the same window', async () => {
    const remote = await createContextProvider({ url: `${base}/` });
    const request = { prompt: 'waive the shipping fee for large orders', file: 'src/checkout.ml', line: 3, budget: 3000 };
    expect(await remote.provide(request)).toEqual(await local.provide(request));
  });

  it('searches a selection together with the prompt', async () => {
    const w = await local.provide({ prompt: 'why is this wrong', selection: 'let amount = Cart.total cart + shipping in', clientId: 'emacs-test' });
    expect(covers(w.items, 'src/cart.ml', 11)).toBe(true);
  });

  it('says in one line when the server is down or refuses the request', async () => {
    const down = await createContextProvider({ url: 'http://127.0.0.1:9' });
    await expect(down.provide({ prompt: 'x' })).rejects.toThrow(/not reachable/);
    const remote = await createContextProvider({ url: base });
    await expect(remote.provide({ prompt: 'x', file: '../etc/passwd' })).rejects.toThrow(ProviderError);
  });

  it('refuses provider names that could not be routes', () => {
    expect(() => registerContextProvider('Bad Name', () => local)).toThrow(/lower-case/);
    expect(() => registerContextProvider('codesearch', () => local)).toThrow(/built-in/);
  });
});

async function startServe(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const { child, match } = await startCli(['serve', '--db', db, '--port', '0', '-q', ...args], SERVING);
  return { child, url: match[1]! };
}

describe('codesearch serve --provider', () => {
  it("serves a team's provider module beside codesearch's own", async () => {
    const { child, url } = await startServe(['--provider', path.join(FIXTURES, 'providers/notes.mjs')]);
    try {
      const listed = (await (await fetch(`${url}/v1/providers`)).json()) as { providers: { name: string }[] };
      expect(listed.providers.map((p) => p.name)).toEqual(['codesearch', 'notes']);

      const post = (name: string, body: unknown) => fetch(`${url}/v1/providers/${name}/context`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const notes = (await (await post('notes', { prompt: 'add a discount argument to Cart.total' })).json()) as { provider: string; items: { path: string; startLine: number; endLine: number }[] };
      expect(notes.provider).toBe('notes');
      expect(notes.items[0]?.path).toBe('NOTES.md');
      expect(covers(notes.items, 'src/cart.ml', 11)).toBe(true);

      const own = await post('codesearch', { prompt: 'add a discount argument to Cart.total' });
      expect(own.status).toBe(200);
      expect((await post('nope', { prompt: 'x' })).status).toBe(404);
      const failed = await post('notes', { prompt: 'explode' });
      expect(failed.status).toBe(502);
      expect(((await failed.json()) as { error: { message: string } }).error.message).toMatch(/notes backend is down/);
      expect((await post('notes', { prompt: 'x', bogus: 1 })).status).toBe(400);
    } finally {
      child.kill('SIGTERM');
    }
  }, 30_000);

  it('exits with one line when a provider module cannot be loaded', async () => {
    const r = await runCli(['serve', '--db', db, '--port', '0', '--provider', './no-such-provider.mjs'], { cwd: root });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/cannot load provider module \.\/no-such-provider\.mjs/);
  });
});
