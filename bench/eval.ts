// `npm run eval -- [CASES.jsonl] [--db DIR] [--mode M]`: answers every case with the real CLI
// (`codesearch search --batch`, one index load per mode) and prints the shared grader's report
// for each retrieval mode — lexical, vector and hybrid side by side — and for the edit cases the
// coverage of `codesearch context --batch` windows (`context`); --mode picks some of these.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { DEFAULT_BUDGET } from '../server/context/build.js';

const repo = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const USAGE = 'usage: npm run eval -- [CASES.jsonl] [--db DIR] [-k N] [--mode lexical|vector|hybrid|context]... [--json]\n';
const { values, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: { db: { type: 'string' }, k: { type: 'string', short: 'k', default: '10' }, json: { type: 'boolean' }, mode: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    process.stderr.write(`eval: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
})();
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const cases = resolve(positionals[0] ?? join(repo, '../shared/eval/dev.jsonl'));
if (!statSync(cases, { throwIfNoEntry: false })?.isFile()) {
  process.stderr.write(`eval: the cases must be a .jsonl file (the corpus is CODESEARCH_CORPUS, the index --db): ${cases}\n`);
  process.exit(2);
}
const grader = join(repo, '../shared/eval/grade.mjs');
const corpus = resolve(process.env.CODESEARCH_CORPUS ?? join(repo, '../corpus'));
const db = resolve(values.db ?? process.env.CODESEARCH_DB ?? join(corpus, '.codesearch'));

const work = mkdtempSync(join(tmpdir(), 'codesearch-eval-'));
const batch = join(work, 'queries.jsonl');
const lines = readFileSync(cases, 'utf8').split('\n').filter((l) => l.trim());
writeFileSync(batch, lines.map((l) => { const c = JSON.parse(l) as { id: string; query: string }; return JSON.stringify({ id: c.id, query: c.query }); }).join('\n') + '\n');

// The CLI of this build, not whatever `dist/` holds: a copy of a build measures itself.
const cli = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const MODES = ['lexical', 'vector', 'hybrid', 'context'];
const modes = values.mode ?? MODES;
const unknownMode = modes.find((m) => !MODES.includes(m));
if (unknownMode !== undefined) {
  process.stderr.write(`eval: unknown mode '${unknownMode}' (known: ${MODES.join(', ')})\n${USAGE}`);
  process.exit(2);
}

/** Runs one batch command of the CLI, keeps its output as `results-NAME.jsonl` and grades it. */
function runAndGrade(name: string, args: string[]) {
  const started = performance.now();
  const run = spawnSync(process.execPath, [cli, ...args, '--json', '--db', db], { maxBuffer: 1 << 30, encoding: 'utf8' });
  const seconds = (performance.now() - started) / 1000;
  if (run.status !== 0 && !run.stdout) return { error: run.stderr.trim() };
  const results = join(work, `results-${name}.jsonl`);
  writeFileSync(results, run.stdout);
  const report = execFileSync(process.execPath, [grader, cases, results, ...(values.json ? ['--json'] : [])], { encoding: 'utf8' });
  return { stdout: run.stdout, seconds, results, report };
}

for (const mode of modes.filter((m) => m !== 'context')) {
  const run = runAndGrade(mode, ['search', '--batch', batch, '-k', values.k!, '--mode', mode]);
  if (run.error !== undefined) process.stdout.write(`== ${mode}: ${run.error}\n`);
  else if (values.json) process.stdout.write(JSON.stringify({ mode, report: JSON.parse(run.report) }) + '\n');
  else process.stdout.write(`== ${mode} (batch ${run.seconds.toFixed(2)}s, results ${run.results})\n${run.report}`);
}
// Edit cases are answered by context windows: what a change needs, within the default budget.
const editLines = lines.filter((l) => (JSON.parse(l) as { kind?: string }).kind === 'edit');
if (editLines.length > 0 && modes.includes('context')) {
  const editBatch = join(work, 'edit-prompts.jsonl');
  writeFileSync(editBatch, editLines.map((l) => { const c = JSON.parse(l) as { id: string; query: string }; return JSON.stringify({ id: c.id, prompt: c.query }); }).join('\n') + '\n');
  const run = runAndGrade('context', ['context', '--batch', editBatch]);
  if (run.error !== undefined) process.stdout.write(`== context: ${run.error}\n`);
  else {
    const windows = run.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { tokens: number });
    const overBudget = windows.filter((w) => w.tokens > DEFAULT_BUDGET).length;
    if (values.json) process.stdout.write(JSON.stringify({ mode: 'context', overBudget, report: JSON.parse(run.report) }) + '\n');
    else process.stdout.write(`== context windows for edit cases (batch ${run.seconds.toFixed(2)}s, ${overBudget} of ${windows.length} over the ${DEFAULT_BUDGET}-token budget, results ${run.results})\n${run.report.split('\n').filter((l) => l.startsWith('edit') || l.startsWith('summary')).join('\n')}\n`);
  }
}
if (!values.json) process.stdout.write(`cases: ${lines.length}, index: ${db}\n`);
