// Load with a live index: C concurrent clients send /v1/search and /v1/context requests to
// `codesearch serve --watch` for S seconds while a stream of file edits lands in the indexed
// tree. Reports per route p50/p95/p99 latency, throughput and errors, how long each edit took to
// become searchable, and the server's memory at the start and end of each phase.
// bench/trials/load.ts runs it on the full corpus; test/load.test.ts briefly on a small repo.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { percentile } from '../../server/percentile.js';
import { rssOf, startServer, type RunningServer } from '../measure.js';

export interface LoadOptions {
  /** An indexed tree (its index at `db`), which the trial edits: pass a copy. */
  root: string;
  db: string;
  /** Client counts, one phase each, in order. */
  clients: number[];
  seconds: number;
  /**
   * The same load, edits included, for this long before the first phase: a phase starts from the
   * server's memory once its caches hold what this load reads, not after a handful of queries
   * (default 15).
   */
  warmSeconds?: number;
  /** One edit every this many ms: a definition appended to a file of `editFiles`. */
  editEveryMs: number;
  editFiles: string[];
  /** Search queries and context prompts the clients cycle through. */
  queries: string[];
  log?: (line: string) => void;
}

export interface RouteFigures {
  requests: number;
  errors: number;
  p50: number;
  p95: number;
  p99: number;
  perSecond: number;
}

export interface LoadPhase {
  clients: number;
  routes: Record<'search' | 'context', RouteFigures>;
  /** Some error responses or failures, for the report. */
  errorSamples: string[];
  edits: number;
  /** Edits not searchable within the deadline. */
  editsLate: number;
  editVisibleMs: { p50: number; p95: number; max: number };
  rssStart: number;
  rssEnd: number;
  rssPeak: number;
  /** RSS every tenth of the phase, to tell growth from a plateau. */
  rssTrace: number[];
}

const ROUTES = { search: '/v1/search', context: '/v1/context' } as const;
/** An edit must be searchable within this long (the bound). */
export const EDIT_DEADLINE_MS = 2000;
/** How long an edit is looked for at most before it counts as lost. */
const EDIT_GIVE_UP_MS = 30_000;

function figures(samples: number[], errors: number, seconds: number): RouteFigures {
  return { requests: samples.length, errors, p50: percentile(samples, 50), p95: percentile(samples, 95), p99: percentile(samples, 99), perSecond: samples.length / seconds };
}

export async function runLoadTrial(options: LoadOptions): Promise<LoadPhase[]> {
  const log = options.log ?? (() => {});
  const server = await startServer(['--db', options.db, '--watch']);
  const phases: LoadPhase[] = [];
  const edits = { count: 0 };
  try {
    // Warm up: the resident lookups, LanceDB caches, the watcher's first pass, then the whole
    // load, edits included, unrecorded.
    for (const q of options.queries.slice(0, 10)) await post(server.url, 'search', { query: q, k: 10 });
    await new Promise((r) => setTimeout(r, 2000));
    await runPhase(server, options, Math.max(...options.clients), options.warmSeconds ?? 15, edits);
    for (const clients of options.clients) {
      const phase = await runPhase(server, options, clients, options.seconds, edits);
      phases.push(phase);
      log(describePhase(phase));
    }
  } finally {
    // The watcher may be writing: the caller removes the index only once both have exited.
    await server.stop();
  }
  return phases;
}

/** `clients` clients and an editor for `seconds`; `edits` counts edits across phases, for unique names. */
async function runPhase(server: RunningServer, options: LoadOptions, clients: number, seconds: number, edits: { count: number }): Promise<LoadPhase> {
  const rssStart = rssOf(server.pid).rss;
  let rssPeak = rssStart;
  const samples = { search: [] as number[], context: [] as number[] };
  const errors = { search: 0, context: 0 };
  const errorSamples: string[] = [];
  const visible: number[] = [];
  let late = 0;
  const deadline = performance.now() + seconds * 1000;
  const rssTrace: number[] = [];
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssOf(server.pid).rss)), 500);
  const tracer = setInterval(() => rssTrace.push(rssOf(server.pid).rss), seconds * 100);
  let n = 0;
  const client = async () => {
    while (performance.now() < deadline) {
      const i = n++;
      const route = i % 2 === 0 ? 'search' : 'context';
      const query = options.queries[Math.floor(i / 2) % options.queries.length]!;
      const t0 = performance.now();
      try {
        const r = await post(server.url, route, route === 'search' ? { query, k: 10 } : { prompt: query });
        samples[route].push(performance.now() - t0);
        if (r.status !== 200) {
          errors[route]++;
          if (errorSamples.length < 5) errorSamples.push(`${route} ${r.status} ${r.body.slice(0, 200)}`);
        }
      } catch (err) {
        errors[route]++;
        if (errorSamples.length < 5) errorSamples.push(`${route}: ${(err as Error).message}`);
      }
    }
  };
  const editor = async () => {
    while (performance.now() + options.editEveryMs < deadline) {
      const file = options.editFiles[edits.count % options.editFiles.length]!;
      const name = `load_trial_edit_${edits.count++}`;
      const abs = join(options.root, file);
      const t0 = performance.now();
      writeFileSync(abs, `${readFileSync(abs, 'utf8')}\nlet ${name} = ${edits.count}\n`);
      for (;;) {
        const r = await fetch(`${server.url}/v1/symbols?q=${name}`);
        const found = ((await r.json()) as { results?: { name: string }[] }).results?.some((x) => x.name === name);
        const ms = performance.now() - t0;
        if (found) {
          visible.push(ms);
          if (ms > EDIT_DEADLINE_MS) late++;
          break;
        }
        if (ms > EDIT_GIVE_UP_MS) {
          late++;
          visible.push(ms);
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      const rest = options.editEveryMs - (performance.now() - t0);
      if (rest > 0) await new Promise((r) => setTimeout(r, rest));
    }
  };
  const started = performance.now();
  await Promise.all([...Array.from({ length: clients }, client), editor()]);
  const elapsed = (performance.now() - started) / 1000;
  clearInterval(sampler);
  clearInterval(tracer);
  return {
    clients,
    routes: { search: figures(samples.search, errors.search, elapsed), context: figures(samples.context, errors.context, elapsed) },
    errorSamples,
    edits: visible.length,
    editsLate: late,
    editVisibleMs: { p50: percentile(visible, 50), p95: percentile(visible, 95), max: Math.max(0, ...visible) },
    rssStart,
    rssEnd: rssOf(server.pid).rss,
    rssPeak,
    rssTrace,
  };
}

async function post(url: string, route: keyof typeof ROUTES, body: unknown): Promise<{ status: number; body: string }> {
  const r = await fetch(`${url}${ROUTES[route]}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, body: await r.text() };
}

const ms = (x: number) => `${x.toFixed(0)} ms`;
const mb = (x: number) => `${(x / 1e6).toFixed(0)} MB`;

export function describePhase(p: LoadPhase): string {
  const route = (name: string, f: RouteFigures) => `${name} ${f.requests} req (${f.perSecond.toFixed(1)}/s), ${f.errors} errors, p50/p95/p99 ${ms(f.p50)}/${ms(f.p95)}/${ms(f.p99)}`;
  return [
    `${p.clients} clients: ${route('/v1/search', p.routes.search)}; ${route('/v1/context', p.routes.context)}`,
    `  edits ${p.edits}, searchable after p50/p95/max ${ms(p.editVisibleMs.p50)}/${ms(p.editVisibleMs.p95)}/${ms(p.editVisibleMs.max)}, ${p.editsLate} over ${EDIT_DEADLINE_MS} ms`,
    `  server RSS ${mb(p.rssStart)} at start, ${mb(p.rssEnd)} at end (${(p.rssEnd / p.rssStart).toFixed(2)}×), peak ${mb(p.rssPeak)}; over the phase: ${p.rssTrace.map((x) => (x / 1e6).toFixed(0)).join(' ')} MB`,
    ...p.errorSamples.map((e) => `  error: ${e}`),
  ].join('\n');
}
