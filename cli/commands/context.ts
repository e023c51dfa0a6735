// `codesearch context PROMPT [--file PATH[:LINE]] [--errors FILE|-] [--budget N] [--json]` and `--batch FILE`.
import { isAbsolute, relative, resolve } from 'node:path';
import { ContextBuilder, ContextRequestError, MAX_BUDGET, type ContextRequest } from '../../server/context/build.js';
import { ENCODINGS, type EncodingName } from '../../server/context/tokens.js';
import { CliError } from '../errors.js';
import { dbForQuerying, parsePositiveInt } from '../config.js';
import { openSearcher, readInput, warnOnce } from './search.js';

export interface ContextCommandOptions {
  db?: string;
  budget?: string;
  file?: string;
  json?: boolean;
  batch?: string;
  encoding?: string;
  errors?: string;
}

export async function runContext(words: string[], opts: ContextCommandOptions): Promise<void> {
  const prompt = words.join(' ').trim();
  if (!opts.batch && !prompt && !opts.file && !opts.errors) throw new CliError('empty prompt: try codesearch context "add a ~sep argument to concat_map" --file src/strkit_string.ml:14');
  if (opts.batch && prompt) throw new CliError('give either a PROMPT or --batch FILE, not both');
  const budget = opts.budget === undefined ? undefined : parsePositiveInt(opts.budget, '--budget', MAX_BUDGET);
  const encoding = (opts.encoding ?? 'o200k_base') as EncodingName;
  if (!ENCODINGS.includes(encoding)) throw new CliError(`--encoding must be one of ${ENCODINGS.join(', ')}, got '${opts.encoding}'`);
  const db = dbForQuerying(opts.db, process.env, process.cwd());
  const searcher = await openSearcher(db);
  try {
    const builder = await ContextBuilder.create(searcher, encoding);
    const root = (await searcher.store.getMeta('root')) ?? process.cwd();
    const warn = warnOnce();
    if (opts.batch) {
      await runBatch(builder, opts.batch, budget, root, warn);
      return;
    }
    const errors = opts.errors === undefined ? undefined : await readInput(opts.errors, '--errors');
    const window = await builder.build({ prompt, budget, errors, ...cursorOf(opts.file, root) });
    window.warnings?.forEach(warn);
    if (opts.json) process.stdout.write(JSON.stringify(window) + '\n');
    else process.stdout.write(`${window.text}\n-- ${window.items.length} items, ${window.tokens} of ${window.budget} tokens\n`);
  } catch (err) {
    if (err instanceof ContextRequestError) throw new CliError(err.message);
    throw err;
  } finally {
    searcher.close();
  }
}

/**
 * `--file PATH[:LINE]`: a path as the user typed it (relative to the current directory or
 * absolute) made relative to the indexed root; a path that does not exist here is taken as
 * root-relative already. A path outside the root is an error.
 */
export function cursorOf(file: string | undefined, root: string): Pick<ContextRequest, 'file' | 'line'> {
  if (!file) return {};
  const m = /^(.*?)(?::(\d+))?$/.exec(file)!;
  const path = m[1]!;
  const line = m[2] === undefined ? undefined : Number(m[2]);
  if (line !== undefined && line < 1) throw new CliError(`--file line numbers start at 1, got ${line}`);
  const absolute = resolve(process.cwd(), path);
  let rel = relative(root, absolute);
  if (rel.startsWith('..') || isAbsolute(rel)) {
    if (isAbsolute(path)) throw new CliError(`--file ${path} is outside the indexed root ${root}`);
    rel = path;
  }
  rel = rel.split('\\').join('/');
  if (rel.split('/').includes('..')) throw new CliError(`--file ${path} is outside the indexed root ${root}`);
  return { file: rel, ...(line !== undefined ? { line } : {}) };
}

async function runBatch(builder: ContextBuilder, file: string, budget: number | undefined, root: string, warn: (message: string) => void): Promise<void> {
  const text = await readInput(file, '--batch');
  for (const [n, line] of text.split('\n').entries()) {
    if (!line.trim()) continue;
    let id: unknown = null;
    try {
      const input = JSON.parse(line) as { id?: unknown; prompt?: unknown; file?: unknown };
      id = input.id ?? null;
      if (typeof input.prompt !== 'string') throw new Error('"prompt" must be a string');
      if (input.file !== undefined && typeof input.file !== 'string') throw new Error('"file" must be a string (PATH or PATH:LINE)');
      const window = await builder.build({ prompt: input.prompt, budget, ...cursorOf(input.file as string | undefined, root) });
      window.warnings?.forEach(warn);
      process.stdout.write(JSON.stringify({ id, items: window.items, tokens: window.tokens }) + '\n');
    } catch (err) {
      process.stdout.write(JSON.stringify({ id, items: [], tokens: 0, error: `line ${n + 1}: ${(err as Error).message}` }) + '\n');
      process.exitCode = 1;
    }
  }
}
