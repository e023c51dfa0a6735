// `npm run eval -- [CASES.jsonl] [--db DIR] [--mode M]`: answers every case with the real CLI
// (`codesearch search --batch`, one index load per mode) and prints the shared grader's report
// for each retrieval mode — lexical, vector and hybrid side by side unless --mode picks one.
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
for (const mode of values.mode ?? ['lexical', 'vector', 'hybrid']) {
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
if (!values.json) process.stdout.write(`cases: ${lines.length}, index: ${db}\n`);
