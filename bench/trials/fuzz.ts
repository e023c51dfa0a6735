// `npm run trials -- fuzz [--db DIR] [--requests N] [--mcp N] [--concurrency C] [--seed S]`: the
// fuzz suite of test/fuzz.test.ts at full size, against a real `codesearch serve` and a real
// `codesearch mcp` over a real index (by default the full corpus's, $CODESEARCH_CORPUS or
// ../corpus). Prints the requests tried, the status histogram, 5xx, connections left unanswered,
// crashes, the server's RSS at start and end, and the answer to a sound request at the end.
// Passes with no 5xx, no crash, no answer out of the contract and no file outside the root served.
// For the length of the run, a symlink to a directory outside the root sits in the root
// (`.codesearch-fuzz-PID`, removed at the end): requests name files through it.
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { IndexStore } from '../../indexer/store.js';
import { rssOf, startServer, type RunningServer } from '../measure.js';
import { CLI_MAIN } from './cli.js';
import {
  FuzzTally,
  McpSession,
  describeCase,
  describeMcpCase,
  hostileMcpCalls,
  hostileRequests,
  judgeHttp,
  resultsProblem,
  sendHttp,
  statusOf,
  type FuzzTarget,
  type HttpCase,
} from './fuzz-requests.js';
import type { Trial } from './trial.js';

const log = (line: string) => process.stdout.write(`${line}\n`);

/** Cases are generated this many at a time: some carry 10 MB. */
const BATCH = 500;
/** Questions and names for an OCaml corpus: the generators mix them in, and their hits give the files requests name. */
const QUERIES = [
  'List.concat_map', 'Hashtbl.find_opt', 'String.split_on_char', 'Printf.sprintf', 'Buffer.add_string', 'fold_left', 'map',
  'how do I split a string on a character', 'read a file line by line', 'parse command line arguments', 'where are exceptions printed',
  'string -> char -> string list', "'a list -> ('a -> bool) -> 'a list", "'The constructor X expects N argument(s)'",
];
/** A request that must be answered, before and after. */
const SOUND = { query: 'List.concat_map', k: 3 };

const mb = (bytes: number) => Math.round(bytes / 2 ** 20);

/** Whether a process still runs. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function post(base: string, token: string, route: string, body: unknown): Promise<{ status: number; body: unknown; ms: number }> {
  const started = performance.now();
  const r = await fetch(`${base}${route}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json().catch(() => undefined), ms: performance.now() - started };
}

/** The files the index holds, as the server's hits for QUERIES name them. */
async function indexedFiles(base: string, token: string): Promise<string[]> {
  const files = new Set<string>();
  for (const query of QUERIES) {
    const answer = await post(base, token, '/v1/search', { query, k: 10 });
    for (const r of (answer.body as { results?: { path: string }[] } | undefined)?.results ?? []) files.add(r.path);
  }
  return [...files].slice(0, 60);
}

/** A directory outside the root, linked from inside it; undefined (with the reason logged) when the root is read-only. */
function linkOut(root: string): { link: string; outside: string } | undefined {
  const outside = mkdtempSync(join(tmpdir(), 'codesearch-fuzz-outside-'));
  writeFileSync(join(outside, 'secret.ml'), 'let secret = "must not be served"\n');
  const link = join(root, `.codesearch-fuzz-${process.pid}`);
  try {
    symlinkSync(outside, link);
    return { link, outside };
  } catch (err) {
    log(`fuzz: no symlink out of the root (${(err as Error).message}); paths through one are not tried`);
    rmSync(outside, { recursive: true, force: true });
    return undefined;
  }
}

/** Runs HTTP cases `concurrency` at a time, generated in batches; stops early if the server dies. */
async function fuzzHttp(address: { host: string; port: number }, target: FuzzTarget, options: { requests: number; concurrency: number; seed: number; serverPid: number }): Promise<FuzzTally> {
  const tally = new FuzzTally();
  const started = performance.now();
  let nextReport = 2000;
  for (let batch = 0; batch * BATCH < options.requests && alive(options.serverPid); batch++) {
    const cases = fc.sample(hostileRequests(target), { numRuns: Math.min(BATCH, options.requests - batch * BATCH), seed: options.seed + batch });
    let next = 0;
    const worker = async () => {
      for (let c: HttpCase | undefined; (c = cases[next++]) !== undefined && alive(options.serverPid); ) {
        const outcome = await sendHttp(address, c, 60_000);
        const sent = c;
        tally.record(c.family, statusOf(outcome), judgeHttp(c, outcome), () => describeCase(sent));
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, worker));
    if (tally.tried >= nextReport) {
      const seconds = (performance.now() - started) / 1000;
      const rss = alive(options.serverPid) ? `, server RSS ${mb(rssOf(options.serverPid).rss)} MB` : '';
      log(`  ${tally.tried} requests, ${seconds.toFixed(0)} s (${(tally.tried / seconds).toFixed(0)}/s)${rss}, ${tally.problems.length} problems; ${tally.histogram()}`);
      nextReport += 2000;
    }
  }
  return tally;
}

async function fuzzMcp(db: string, target: FuzzTarget, calls: number, seed: number): Promise<{ tally: FuzzTally; exit?: string; rss: [number, number] }> {
  const tally = new FuzzTally();
  const session = await McpSession.start(CLI_MAIN, ['--db', db]);
  const rssStart = mb(rssOf(session.child.pid!).rss);
  try {
    for (const c of fc.sample(hostileMcpCalls(target), { numRuns: calls, seed })) {
      const { status, problem } = await session.run(c, 60_000);
      tally.record(c.family, status, problem, () => describeMcpCase(c));
      if (session.exit) break;
    }
    return { tally, exit: session.exit, rss: [rssStart, session.exit ? Number.NaN : mb(rssOf(session.child.pid!).rss)] };
  } finally {
    session.close();
  }
}

function reportProblems(what: string, tally: FuzzTally): void {
  for (const { family, problem, request } of tally.problems.slice(0, 20)) log(`  ${what} problem (${family}): ${problem}\n    ${request.slice(0, 400)}`);
  if (tally.problems.length > 20) log(`  … and ${tally.problems.length - 20} more`);
}

const fuzz: Trial = {
  description: 'hostile HTTP requests (default 20,000) and MCP tool calls against serve/mcp over a real index: no 5xx, no crash, contract error shapes',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        db: { type: 'string' },
        requests: { type: 'string', default: '20000' },
        mcp: { type: 'string', default: '1000' },
        concurrency: { type: 'string', default: '4' },
        seed: { type: 'string', default: String(Date.now() % 2 ** 31) },
      },
    });
    const [requests, mcpCalls, concurrency, seed] = [values.requests, values.mcp, values.concurrency, values.seed].map(Number) as [number, number, number, number];
    for (const [name, n] of [['--requests', requests], ['--mcp', mcpCalls], ['--concurrency', concurrency], ['--seed', seed]] as const) {
      if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer`);
    }
    const db = resolve(values.db ?? join(process.env.CODESEARCH_CORPUS ?? '../corpus', '.codesearch'));
    const store = await IndexStore.openForSearch(db);
    const root = await store.getMeta('root');
    store.close();
    if (!root) throw new Error(`${db} records no indexed root`);

    const linked = linkOut(root);
    const unlink = () => {
      if (!linked) return;
      rmSync(linked.link, { force: true });
      rmSync(linked.outside, { recursive: true, force: true });
    };
    // An interrupted run must not leave its link in the corpus.
    const interrupted = () => {
      unlink();
      process.exit(130);
    };
    process.once('SIGINT', interrupted);
    let server: RunningServer | undefined;
    try {
      log(`fuzz: ${db} (root ${root}), ${requests} HTTP requests ${concurrency} at a time, ${mcpCalls} MCP calls, seed ${seed}`);
      const loadStarted = performance.now();
      // A token and a rate limit far above the run put both checks in every request's path.
      const token = `fuzz-${process.pid}`;
      server = await startServer(['--db', db, '--token', token, '--rate-limit', '1000000']);
      const { url: base, pid } = server;
      const url = new URL(base);
      const address = { host: url.hostname, port: Number(url.port) };
      log(`  serve listening on ${base} after ${((performance.now() - loadStarted) / 1000).toFixed(1)} s`);

      const files = await indexedFiles(base, token);
      const escapes = linked ? [`${linked.link.slice(root.length + 1)}/secret.ml`, `${linked.link.slice(root.length + 1)}`] : [];
      const target: FuzzTarget = { token, files, escapes, queries: QUERIES };
      const rssStart = mb(rssOf(pid).rss);

      const httpStarted = performance.now();
      const tally = await fuzzHttp(address, target, { requests, concurrency, seed, serverPid: pid });
      const httpSeconds = (performance.now() - httpStarted) / 1000;
      const crash = alive(pid) ? undefined : 'the server is gone';
      const rssEnd = crash ? undefined : rssOf(pid);

      const mcpStarted = performance.now();
      const mcp = mcpCalls > 0 ? await fuzzMcp(db, target, mcpCalls, seed) : undefined;
      const mcpSeconds = (performance.now() - mcpStarted) / 1000;

      const final = crash ? undefined : await post(base, token, '/v1/search', SOUND).catch(() => undefined);
      const finalResults = (final?.body as { results?: { path: string; startLine: number; endLine: number; symbol: string }[] } | undefined)?.results;
      const finalProblem = !final ? (crash ?? 'no answer') : final.status !== 200 ? `status ${final.status}` : !finalResults?.length ? 'no results' : resultsProblem(finalResults);

      log(`fuzz: ${tally.tried} HTTP requests tried in ${httpSeconds.toFixed(0)} s (${(tally.tried / httpSeconds).toFixed(0)}/s)`);
      log(`  statuses: ${tally.histogram()}`);
      log(`  5xx: ${tally.fiveXX}, unanswered: ${tally.statuses.get('no answer') ?? 0}, problems: ${tally.problems.length}, crashes: ${crash ? 1 : 0}`);
      log(`  server RSS: start ${rssStart} MB, end ${rssEnd ? `${mb(rssEnd.rss)} MB, peak ${mb(rssEnd.peak)} MB` : 'gone'}`);
      reportProblems('HTTP', tally);
      if (mcp) {
        log(`fuzz: ${mcp.tally.tried} MCP messages in ${mcpSeconds.toFixed(0)} s: ${mcp.tally.histogram()}; problems: ${mcp.tally.problems.length}, crashes: ${mcp.exit ? 1 : 0}${mcp.exit ? ` (${mcp.exit})` : ''}`);
        log(`  mcp RSS: start ${mcp.rss[0]} MB, end ${mcp.rss[1]} MB`);
        reportProblems('MCP', mcp.tally);
      }
      log(
        `fuzz: final ${JSON.stringify(SOUND)}: ${final ? `${final.status} in ${final.ms.toFixed(0)} ms` : 'not sent'}${finalResults ? ` — ${finalResults.map((r) => `${r.path}:${r.startLine}-${r.endLine} ${r.symbol}`).join('; ')}` : ''}`,
      );
      const passed = !crash && tally.problems.length === 0 && !mcp?.exit && (mcp?.tally.problems.length ?? 0) === 0 && finalProblem === undefined;
      log(`fuzz: ${passed ? 'passed' : `FAILED${finalProblem ? ` (final request: ${finalProblem})` : ''}`}`);
      return passed;
    } finally {
      await server?.stop();
      process.removeListener('SIGINT', interrupted);
      unlink();
    }
  },
};
export default fuzz;
