// `codesearch serve [--db DIR] [--host H] [--port P] [--token T] [--rate-limit N]`: the HTTP API
// over one index, loaded once; it keeps answering while `codesearch index` updates the index.
import { ContextBuilder } from '../../server/context/build.js';
import { buildApp, isLoopback } from '../../server/http/app.js';
import { CliError } from '../errors.js';
import { dbForQuerying, parsePositiveInt } from '../config.js';
import { openSearcher } from './search.js';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createRegisteredProvider, indexProvider, loadProviderModules, type ContextProvider } from '../../server/provider.js';
import { REFRESH_INTERVAL_MS, type Searcher } from '../../server/search.js';
import { DEFAULT_STRATEGY, UnknownStrategyError, checkStrategy, strategyNames, type StrategyConfig } from '../../server/strategy.js';
import { StatsLog } from '../../server/stats.js';
import { localStateDir } from '../../indexer/location.js';
import { keepHeapTight } from '../heap.js';
import { RUN_ENDED, RUN_STARTED } from './watch-lines.js';

export interface ServeCommandOptions {
  db?: string;
  host: string;
  port: string;
  token?: string;
  quiet?: boolean;
  watch?: boolean;
  /** Provider modules to load: each registers context providers served beside codesearch's own. */
  provider?: string[];
  strategy?: string;
  /** Two strategies to split clients between, `A,B`. */
  ab?: string;
  /** Requests a minute per client, `0` for none. */
  rateLimit?: string;
  /** Milliseconds between looks for a newer index version, at most. */
  refresh?: string;
  /** Keep the chunks in memory (default); `--no-resident` reads them from the index per request. */
  resident?: boolean;
}

/**
 * Requests a minute per client when serving beyond loopback: far above what editors send (every
 * holder of the one token counts as one client), low enough that a runaway script cannot take
 * the whole server (about 114 searches a second on the full corpus). On loopback a sidecar must
 * never throttle its own editor, so there is no limit unless asked for.
 */
export const DEFAULT_REMOTE_RATE_LIMIT = 3000;

export async function runServe(opts: ServeCommandOptions): Promise<void> {
  const port = opts.port === '0' ? 0 : parsePositiveInt(opts.port, '--port', 65535);
  const token = opts.token ?? process.env.CODESEARCH_TOKEN;
  if (!isLoopback(opts.host) && !token) {
    throw new CliError(`refusing to serve on ${opts.host} without a token: pass --token T (or set CODESEARCH_TOKEN), or bind 127.0.0.1`);
  }
  const rateLimit = rateLimitFor(opts);
  const db = dbForQuerying(opts.db, process.env, process.cwd());
  const strategies = strategyConfig(opts);
  keepHeapTight();
  const refreshIntervalMs = opts.refresh === undefined ? undefined : parsePositiveInt(opts.refresh, '--refresh', 3_600_000);
  const searcher = await openSearcher(db, { resident: opts.resident !== false, refreshIntervalMs });
  const root = (await searcher.store.getMeta('root')) ?? process.cwd();
  const builder = await ContextBuilder.create(searcher);
  const providers = await thirdPartyProviders(opts.provider ?? [], indexProvider(searcher, builder), searcher);
  const app = await buildApp({ searcher, builder, root, token, logger: !opts.quiet, providers, strategies, stats: StatsLog.open(localStateDir(db)), rateLimit });
  // A live index in a process of its own (`codesearch watch`): what indexing and compaction take
  // (LanceDB's native buffers, a second of CPU per update) never stays in the server's memory or
  // queues behind its requests; each update is picked up as soon as the watcher says it ended.
  const live = opts.watch ? await watchInChild(root, db, {
    onRunStart: () => searcher.yieldToWriter(true),
    // The new version is opened once the run (or optimize pass) has ended; requests get every
    // core back after that (opening it is a read too).
    onRunEnd: () => void searcher.refresh({ now: true }).finally(() => searcher.yieldToWriter(false)),
  }).catch((err: Error) => {
    searcher.close();
    throw new CliError(`--watch: ${err.message} (the root the index was built from; re-index it, or serve without --watch)`);
  }) : undefined;
  // Another process's update (a shared index's indexer on another host) is picked up while the
  // server is idle too, not only on the next request.
  const poll = setInterval(() => void searcher.refresh(), refreshIntervalMs ?? REFRESH_INTERVAL_MS).unref();
  const close = async () => {
    clearInterval(poll);
    await live?.stop();
    await app.close();
    await Promise.all(providers.map((p) => p.close()));
    searcher.close();
    process.exit(0);
  };
  process.once('SIGINT', close);
  process.once('SIGTERM', close);
  try {
    await app.listen({ host: opts.host, port });
  } catch (err) {
    searcher.close();
    throw new CliError(`cannot listen on ${opts.host}:${opts.port}: ${(err as Error).message}`);
  }
  const address = app.server.address();
  const bound = typeof address === 'object' && address ? `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` : String(address);
  const terms = [token ? 'bearer token required' : '', rateLimit ? `${rateLimit} requests a minute per client` : ''].filter(Boolean);
  process.stdout.write(`codesearch: serving ${db} on ${bound}${terms.length ? ` (${terms.join('; ')})` : ''}\n`);
}

/** `--rate-limit`, or the default for the address bound. */
function rateLimitFor(opts: ServeCommandOptions): number {
  if (opts.rateLimit === undefined) return isLoopback(opts.host) ? 0 : DEFAULT_REMOTE_RATE_LIMIT;
  if (!/^\d{1,9}$/.test(opts.rateLimit.trim())) throw new CliError(`--rate-limit must be a number of requests a minute per client (0: no limit), got '${opts.rateLimit}'`);
  return Number(opts.rateLimit.trim());
}

/** Loads `--provider` modules and makes every provider they register. */
async function thirdPartyProviders(modules: readonly string[], codesearch: ContextProvider, searcher: Searcher): Promise<ContextProvider[]> {
  try {
    const names = await loadProviderModules(modules);
    return await Promise.all(names.map((name) => createRegisteredProvider(name, { codesearch })));
  } catch (err) {
    searcher.close();
    throw new CliError((err as Error).message);
  }
}

function strategyConfig(opts: ServeCommandOptions): StrategyConfig {
  try {
    const ab = opts.ab?.split(',').map((n) => checkStrategy(n.trim()));
    if (ab && ab.length !== 2) throw new UnknownStrategyError(`--ab takes two strategies, A,B (known: ${strategyNames().join(', ')})`);
    return { default: checkStrategy(opts.strategy ?? DEFAULT_STRATEGY), ...(ab ? { ab: [ab[0]!, ab[1]!] as const } : {}) };
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

interface ChildRuns {
  /** An update starts. */
  onRunStart: () => void;
  /** An update ended, written or failed (or the watcher exited). */
  onRunEnd: () => void;
}

/**
 * Runs `codesearch watch ROOT --db DB` as a child; resolves once its first update is done. Tells
 * `runs` of every update. Its warnings and failures go to this stderr.
 */
function watchInChild(root: string, db: string, runs: ChildRuns): Promise<{ stop: () => Promise<void> }> {
  if (!existsSync(root) || !statSync(root).isDirectory()) return Promise.reject(new Error(`cannot watch ${root}: not a directory`));
  const child = spawn(process.execPath, [process.argv[1]!, 'watch', root, '--db', db, '--quiet', '--exit-with-parent', '--announce-runs'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return new Promise((resolve, reject) => {
    let watching = false;
    let pending = '';
    child.stdout.setEncoding('utf8').on('data', (data: string) => {
      const lines = (pending + data).split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (line === RUN_STARTED) runs.onRunStart();
        else if (line === RUN_ENDED) runs.onRunEnd();
        else if (line.startsWith('codesearch: watching ') && !watching) {
          watching = true;
          resolve({
            stop: async () => {
              child.kill('SIGTERM');
              await exited;
            },
          });
        }
      }
    });
    void exited.then((code) => {
      runs.onRunEnd();
      if (!watching) reject(new Error(`the watcher exited with status ${code} before its first update`));
      else process.stderr.write(`codesearch: the index watcher stopped (status ${code}); answers stay on the last version\n`);
    });
  });
}
