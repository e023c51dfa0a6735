// `npm run eval -- [CASES.jsonl] [--db DIR] [--mode M]`: answers every case with the real CLI
// (`codesearch search --batch`, one index load per mode) and prints the shared grader's report
// for each retrieval mode — lexical, vector and hybrid side by side — and for the edit cases the
// coverage of `codesearch context --batch` windows (`context`); --mode picks some of these.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const repo = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { db: { type: 'string' }, k: { type: 'string', default: '10' }, json: { type: 'boolean' }, mode: { type: 'string', multiple: true } },
});
const cases = resolve(positionals[0] ?? join(repo, '../shared/eval/dev.jsonl'));
const grader = join(repo, '../shared/eval/grade.mjs');
const corpus = resolve(process.env.CODESEARCH_CORPUS ?? join(repo, '../corpus'));
const db = resolve(values.db ?? process.env.CODESEARCH_DB ?? join(corpus, '.codesearch'));

const work = mkdtempSync(join(tmpdir(), 'codesearch-eval-'));
const batch = join(work, 'queries.jsonl');
const results = join(work, 'results.jsonl');
const lines = readFileSync(cases, 'utf8').split('\n').filter((l) => l.trim());
writeFileSync(batch, lines.map((l) => { const c = JSON.parse(l) as { id: string; query: string }; return JSON.stringify({ id: c.id, query: c.query }); }).join('\n') + '\n');

const cli = join(repo, 'dist/cli/main.js');
const modes = values.mode ?? ['lexical', 'vector', 'hybrid', 'context'];
for (const mode of modes.filter((m) => m !== 'context')) {
  const started = performance.now();
  const run = spawnSync(process.execPath, [cli, 'search', '--batch', batch, '--json', '--db', db, '-k', values.k!, '--mode', mode], { maxBuffer: 1 << 30, encoding: 'utf8' });
  const seconds = (performance.now() - started) / 1000;
  if (run.status !== 0 && !run.stdout) {
    process.stdout.write(`== ${mode}: ${run.stderr.trim()}\n`);
    continue;
  }
  const results = join(work, `results-${mode}.jsonl`);
  writeFileSync(results, run.stdout);
  const report = execFileSync(process.execPath, [grader, cases, results, ...(values.json ? ['--json'] : [])], { encoding: 'utf8' });
  if (values.json) process.stdout.write(JSON.stringify({ mode, report: JSON.parse(report) }) + '\n');
  else process.stdout.write(`== ${mode} (batch ${seconds.toFixed(2)}s, results ${results})\n${report}`);
}
// Edit cases are answered by context windows: what a change needs, within the default budget.
const editLines = lines.filter((l) => (JSON.parse(l) as { kind?: string }).kind === 'edit');
if (editLines.length > 0 && modes.includes('context')) {
  const editBatch = join(work, 'edit-prompts.jsonl');
  writeFileSync(editBatch, editLines.map((l) => { const c = JSON.parse(l) as { id: string; query: string }; return JSON.stringify({ id: c.id, prompt: c.query }); }).join('\n') + '\n');
  const started = performance.now();
  const run = spawnSync(process.execPath, [cli, 'context', '--batch', editBatch, '--json', '--db', db], { maxBuffer: 1 << 30, encoding: 'utf8' });
  const seconds = (performance.now() - started) / 1000;
  const results = join(work, 'results-context.jsonl');
  writeFileSync(results, run.stdout);
  const windows = run.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { tokens: number });
  const report = execFileSync(process.execPath, [grader, cases, results, ...(values.json ? ['--json'] : [])], { encoding: 'utf8' });
  const overBudget = windows.filter((w) => w.tokens > 8000).length;
  if (values.json) process.stdout.write(JSON.stringify({ mode: 'context', overBudget, report: JSON.parse(report) }) + '\n');
  else process.stdout.write(`== context windows for edit cases (batch ${seconds.toFixed(2)}s, ${overBudget} of ${windows.length} over the 8000-token budget, results ${results})\n${report.split('\n').filter((l) => l.startsWith('edit') || l.startsWith('summary')).join('\n')}\n`);
}
if (!values.json) process.stdout.write(`cases: ${lines.length}, index: ${db}\n`);
