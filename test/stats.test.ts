// Strategies, A/B assignment, feedback and stats on a real server over the shop fixture.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Searcher } from '../server/search.js';
import { ContextBuilder } from '../server/context/build.js';
import { buildApp } from '../server/http/app.js';
import { StatsLog, STATS_FILE } from '../server/stats.js';
import { cleanupTempDirs, indexedFixture, makeTempDir, runCli } from './helpers.js';

let db: string;
let searcher: Searcher;
let app: FastifyInstance;
let base: string;

beforeAll(async () => {
  const fixture = await indexedFixture('shop');
  const root = fixture.root;
  db = fixture.db;
  searcher = await Searcher.open(db, { resident: true });
  app = await buildApp({ searcher, builder: await ContextBuilder.create(searcher), root, strategies: { default: 'hybrid-graph', ab: ['hybrid-graph', 'no-expansion'] }, stats: StatsLog.open(db) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await app?.close();
  searcher?.close();
  cleanupTempDirs();
});

interface Answer {
  strategy: string;
  requestId: string;
  items: { reason: string }[];
}

const post = async (route: string, body: unknown) => {
  const r = await fetch(`${base}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Answer & { error?: { message: string } } };
};
const PROMPT = 'add a discount argument to Cart.total';

describe('context strategies', () => {
  it('builds a window by the strategy a request names', async () => {
    const graph = await post('/v1/context', { prompt: PROMPT, strategy: 'hybrid-graph' });
    expect(graph.body.strategy).toBe('hybrid-graph');
    expect(graph.body.items.some((i) => ['caller', 'test', 'dependency'].includes(i.reason))).toBe(true);
    const bare = await post('/v1/context', { prompt: PROMPT, strategy: 'no-expansion' });
    expect(bare.body.strategy).toBe('no-expansion');
    expect(bare.body.items.length).toBeGreaterThan(0);
    expect(bare.body.items.every((i) => i.reason === 'match')).toBe(true);
    // codesearch's own provider route builds the same way.
    const viaProvider = await post('/v1/providers/codesearch/context', { prompt: PROMPT, strategy: 'no-expansion' });
    expect(viaProvider.body.strategy).toBe('no-expansion');
    expect(viaProvider.body.items.every((i) => i.reason === 'match')).toBe(true);
    const unknown = await post('/v1/context', { prompt: PROMPT, strategy: 'telepathy' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error?.message).toMatch(/unknown strategy 'telepathy'/);
  });

  it('splits clients between the A/B strategies, each client always on its side', async () => {
    const sides = new Map<string, Set<string>>();
    for (let c = 0; c < 12; c++) {
      for (let i = 0; i < 2; i++) {
        const r = await post('/v1/context', { prompt: PROMPT, clientId: `editor-${c}`, budget: 500 });
        sides.set(`editor-${c}`, (sides.get(`editor-${c}`) ?? new Set()).add(r.body.strategy));
      }
    }
    expect([...sides.values()].every((s) => s.size === 1)).toBe(true);
    expect(new Set([...sides.values()].flatMap((s) => [...s]))).toEqual(new Set(['hybrid-graph', 'no-expansion']));
  });
});

describe('feedback and stats', () => {
  it('records outcomes per answer and reports them per strategy, durably', async () => {
    const a = await post('/v1/context', { prompt: PROMPT, strategy: 'lexical-only' });
    expect((await post('/v1/feedback', { requestId: a.body.requestId, outcome: 'applied' })).status).toBe(200);
    expect((await post('/v1/feedback', { requestId: 'no-such-request', outcome: 'applied' })).status).toBe(404);
    expect((await post('/v1/feedback', { requestId: a.body.requestId, outcome: 'maybe' })).status).toBe(400);
    await post('/v1/search', { query: 'total price' });

    const stats = (await (await fetch(`${base}/v1/stats`)).json()) as { strategies: Record<string, { requests: number; outcomes: Record<string, number>; outcomeRates: Record<string, number>; latencyMs: { p95: number } }>; ab: string[] };
    expect(stats.ab).toEqual(['hybrid-graph', 'no-expansion']);
    expect(stats.strategies['lexical-only']).toMatchObject({ requests: 1, outcomes: { applied: 1, accepted: 0 }, outcomeRates: { applied: 1 } });
    expect(stats.strategies.search?.requests).toBe(1);
    expect(stats.strategies['hybrid-graph']!.latencyMs.p95).toBeGreaterThan(0);
    // A restart reads the same figures back from the index directory.
    expect(StatsLog.open(db).summary()).toEqual(stats.strategies);

    const cli = await runCli(['stats', '--db', db, '--json'], { cwd: db });
    expect(cli.code).toBe(0);
    expect((JSON.parse(cli.stdout) as { strategies: unknown }).strategies).toEqual(stats.strategies);
  });

  it('keeps the log bounded, and survives a torn last line', () => {
    const dir = makeTempDir('cs-stats-');
    const log = StatsLog.open(dir, { maxEvents: 10 });
    for (let i = 0; i < 25; i++) log.recordAnswer({ requestId: `r${i}`, strategy: 'hybrid-graph', ms: i, tokens: 100, items: 3 });
    const lines = fs.readFileSync(path.join(dir, STATS_FILE), 'utf8').trim().split('\n');
    expect(lines.length).toBeLessThanOrEqual(20);
    fs.appendFileSync(path.join(dir, STATS_FILE), '{"kind":"answer","requ');
    const reopened = StatsLog.open(dir, { maxEvents: 10 });
    expect(reopened.summary()['hybrid-graph']!.requests).toBe(lines.length);
    expect(reopened.recordFeedback('r24', 'accepted')).toBe(true);
    expect(reopened.recordFeedback('r0', 'accepted')).toBe(false);
  });

  it('keeps counting in memory when the index directory cannot be written', () => {
    const dir = makeTempDir('cs-stats-');
    fs.mkdirSync(path.join(dir, STATS_FILE)); // a directory where the file should be: every write fails
    const log = StatsLog.open(dir);
    log.recordAnswer({ requestId: 'r1', strategy: 'hybrid-graph', ms: 5, tokens: 10, items: 1 });
    expect(log.recordFeedback('r1', 'accepted')).toBe(true);
    expect(log.summary()['hybrid-graph']).toMatchObject({ requests: 1, outcomes: { accepted: 1 } });
  });
});

