#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 node
// The codesearch command line. Only commander loads up front: commands import the indexer and
// LanceDB when they run, so `--help` and usage errors answer at once.
import { Command, CommanderError, Option } from 'commander';
import { CliError, EXIT_USAGE } from './errors.js';

// LanceDB's own log (retry and throttle warnings of an object store) would interleave with the
// one line codesearch prints per failure; read when its native module loads, so set first.
process.env.LANCEDB_LOG ??= 'error';

const program = new Command();
program
  .name('codesearch')
  .description('OCaml-aware code search and context windows: index a repository, search it by symbol, type or question, and build the context a change needs.')
  .version('0.1.0')
  // Usage errors stay on one line, with what to do.
  .configureOutput({ outputError: (text, write) => write(`codesearch: ${text.replace(/^error: /, '').trim()} (see codesearch --help)\n`) })
  .exitOverride();

program
  .command('index')
  .description('build or incrementally update the index of ROOT (default: the current directory)')
  .argument('[root]', 'repository root', '.')
  .option('--db <dir|uri>', 'index directory or object-store URI, e.g. s3://bucket/prefix (default: ROOT/.codesearch, or $CODESEARCH_DB)')
  .option('--threads <n>', 'parser threads (default: one per core)')
  .option('--embedder <name>', "embedder: static (learnt from the corpus; the default), transformers, http or none (default: the index's own)")
  .option('--embedder-model <dir>', 'transformers: a local ONNX feature-extraction model directory')
  .option('--embedder-url <url...>', 'http: OpenAI-compatible embeddings endpoint(s), e.g. http://gpu1:8080/v1')
  .option('--embedder-remote-model <name>', 'http: the model name sent with each request')
  .option('--device <device>', 'transformers: cpu (the default), cuda, or auto (cuda when onnxruntime can use it, the CPU otherwise)')
  .option('--dtype <dtype>', 'transformers: fp32 (default), fp16 or q8')
  .option('--query-prefix <text>', 'transformers, http: put before each query, as many code models need (e.g. "search_query: ")')
  .option('--document-prefix <text>', 'transformers, http: put before each definition embedded (e.g. "search_document: ")')
  .option('--batch-size <n>', 'transformers, http: texts per model call or request (default 32)')
  .option('--retrain', 'learn the static model again even if the corpus has not drifted')
  .option('--shard <i/n>', 'index only shard I of N (e.g. 2/3) of the files, as one of N processes building one index; then run --finalize once')
  .option('--finalize', 'after the shards: embed, build the search indexes and compact, once for all shards (ROOT is not read)')
  .option('--progress <format>', 'bar (on a terminal, the default) or json: a JSON line per step on stderr, for editors and scripts')
  .option('-q, --quiet', 'no progress bar and no warnings; only the summary')
  .action(async (root: string, opts) => (await import('./commands/index.js')).runIndex(root, opts));

program
  .command('watch')
  .description('index ROOT, then keep the index current as files change (a burst of changes is one update)')
  .argument('[root]', 'repository root', '.')
  .option('--db <dir>', 'index directory (default: ROOT/.codesearch, or $CODESEARCH_DB)')
  .option('--threads <n>', 'parser threads (default: one per core)')
  .option('--embedder <name>', "embedder, as for index (default: the index's own)")
  .option('-q, --quiet', 'no warnings; only a summary line per update')
  // For `serve --watch`, which runs the watcher as its child: a killed server leaves none behind.
  .addOption(new Option('--exit-with-parent').hideHelp())
  // For `serve --watch` too: a line when each run starts and ends, so the server gives way.
  .addOption(new Option('--announce-runs').hideHelp())
  .action(async (root: string, opts) => (await import('./commands/watch.js')).runWatch(root, opts));

program
  .command('search', { isDefault: true })
  .description('ranked definitions for QUERY: a symbol (`String.split`, `find_opt`), a type (`string -> char list`) or a question')
  .argument('[query...]', 'what to look for')
  .option('--db <dir|uri>', 'index directory or object-store URI (default: .codesearch found upwards, or $CODESEARCH_DB)')
  .option('-k, --k <n>', 'number of results', '10')
  .option('--json', 'print {"results":[...]} (with --batch: one JSON line per query)')
  .addOption(new Option('--mode <mode>', 'retrieval: lexical (full text + symbols), vector, or hybrid (both)').choices(['lexical', 'vector', 'hybrid']).default('hybrid'))
  .addOption(new Option('--batch <file>', 'JSON Lines {"id","query"} to answer in one run (- for stdin)'))
  .option('--explain', 'show what each score is made of: the retrievers that found the hit and the ranking signals, with their points')
  .addOption(new Option('--pairs <how>', 'a definition and its .mli declaration: one result naming the other as counterpart (fold), or two results (separate)').choices(['fold', 'separate']).default('fold'))
  .action(async (words: string[], opts) => (await import('./commands/search.js')).runSearch(words, opts));

program
  .command('context')
  .description('the context window an LLM needs for PROMPT: definitions, declarations, types, callers and tests, within a token budget')
  .argument('[prompt...]', 'what the change or question is')
  .option('--db <dir|uri>', 'index directory or object-store URI (default: .codesearch found upwards, or $CODESEARCH_DB)')
  .option('--budget <tokens>', 'token budget of the window', '8000')
  .option('--file <path[:line]>', 'where you are: the enclosing definition comes first, and nearby code is preferred')
  .option('--errors <file>', 'compiler or dune build output (- for stdin): each error site and the names it mentions join the window')
  .option('--encoding <name>', 'tokenizer for the budget: o200k_base (default) or cl100k_base')
  .option('--json', 'print {"items":[...],"tokens":N,"budget":N,"text":"..."} (with --batch: one JSON line per prompt)')
  .addOption(new Option('--batch <file>', 'JSON Lines {"id","prompt","file"?} to answer in one run (- for stdin)'))
  .action(async (words: string[], opts) => (await import('./commands/context.js')).runContext(words, opts));

program
  .command('serve')
  .description('the HTTP API: POST /v1/search, POST /v1/context, GET /v1/symbols, GET /healthz')
  .option('--db <dir|uri>', 'index directory or object-store URI (default: .codesearch found upwards, or $CODESEARCH_DB)')
  .option('--host <host>', 'address to bind (anything but loopback needs a token)', '127.0.0.1')
  .option('--port <port>', 'port (0: any free port)', '8717')
  .option('--token <token>', 'require Authorization: Bearer TOKEN on every route but /healthz (or $CODESEARCH_TOKEN)')
  .option('--watch', "keep the index current as the indexed root's files change")
  .option('--strategy <name>', 'default context strategy: hybrid-graph (default), lexical-only or no-expansion')
  .option('--ab <a,b>', 'split clients (by clientId) between two context strategies, e.g. hybrid-graph,no-expansion')
  .option('--provider <module...>', 'load context-provider modules (see codesearch/provider) and serve them at /v1/providers/NAME/context')
  .option('--rate-limit <n>', 'requests a minute per client (its bearer token, else its address), 429 beyond; 0: no limit (default: 3000 beyond loopback, none on loopback)')
  .option('--refresh <ms>', 'look for a newer index version (another process indexed) at most every MS milliseconds while answering (default 1000)')
  .option('--no-resident', "read each answer's definitions from the index instead of keeping every chunk in memory (less memory, slower answers: for very large indexes)")
  .option('-q, --quiet', 'no request log')
  .action(async (opts) => (await import('./commands/serve.js')).runServe(opts));

program
  .command('stats')
  .description('what served context windows and searches did: per strategy, requests, latency, tokens and feedback outcomes')
  .option('--db <dir|uri>', 'index directory or object-store URI (default: .codesearch found upwards, or $CODESEARCH_DB)')
  .option('--json', 'print the figures as JSON')
  .action(async (opts) => (await import('./commands/stats.js')).runStats(opts));

program
  .command('mcp')
  .description('Model Context Protocol server over stdio for agents: tools search, context and symbol')
  .option('--db <dir|uri>', 'index directory or object-store URI (default: .codesearch found upwards, or $CODESEARCH_DB)')
  .action(async (opts) => (await import('./commands/mcp.js')).runMcp(opts));

// `codesearch ... | head` closes our stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    if (err instanceof CliError) {
      process.stderr.write(`codesearch: ${err.message}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`codesearch: ${message.split('\n')[0]}\n`);
    process.exitCode = EXIT_USAGE;
  }
}

await main();
