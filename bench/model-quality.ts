// `npm run model-quality -- [CASES.jsonl...] [--db DIR] [--dims N] [--seed N] [--min-count N]`:
// how well a static model learnt from an index's definitions finds the answers of the eval
// questions by itself, with an exact nearest-neighbour scan. The search path goes through
// LanceDB's IVF index, whose random k-means moves vector-only Recall@10 by several points from
// one build to the next; this figure moves only when the model does, so a change to how the
// model learns can be judged on its own. Symbol and edit cases are left out: a symbol is looked
// up, not embedded, and an edit's places are found through the context window.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { IndexStore } from '../indexer/store.js';
import { StaticEmbedder } from '../indexer/embed/static.js';
import { STATIC_DEFAULTS, trainStaticModel } from '../indexer/embed/static-model.js';
import { parseQuery } from '../server/query.js';
import { questionVector } from '../server/retrieve/vector.js';

const USAGE = 'usage: npm run model-quality -- [CASES.jsonl...] [--db DIR] [--dims N] [--seed N] [--min-count N]\n';
const CUTOFFS = [10, 50, 200] as const;

interface EvalCase {
  id: string;
  kind: string;
  query: string;
  expected: { path: string; line: number }[];
}

const { values, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: { db: { type: 'string' }, dims: { type: 'string' }, seed: { type: 'string' }, 'min-count': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    process.stderr.write(`model-quality: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
})();
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const repo = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const corpus = resolve(process.env.CODESEARCH_CORPUS ?? join(repo, '../corpus'));
const db = resolve(values.db ?? process.env.CODESEARCH_DB ?? join(corpus, '.codesearch'));
const sets = positionals.length > 0 ? positionals : [join(repo, '../shared/eval/dev.jsonl')];
const option = (name: string) => {
  const raw = values[name as keyof typeof values] as string | undefined;
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`model-quality: --${name} must be a positive integer, not '${raw}'\n${USAGE}`);
    process.exit(2);
  }
  return n;
};

const store = await IndexStore.openForSearch(db).catch((err: unknown) => fail((err as Error).message));
try {
  // Definitions in id order, as `codesearch index` learns from them: the same model it would learn.
  const inputs = [];
  for await (const batch of store.embedInputs({ text: false })) inputs.push(...batch);
  inputs.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (inputs.length === 0) fail(`no definitions in ${db}: run 'codesearch index' first`);
  const where = new Map<string, { path: string; startLine: number; endLine: number }>();
  for await (const batch of store.chunkRecords()) for (const { chunk } of batch) where.set(chunk.id, chunk);

  const options = { dims: option('dims') ?? STATIC_DEFAULTS.dims, seed: option('seed') ?? STATIC_DEFAULTS.seed, minCount: option('min-count') ?? STATIC_DEFAULTS.minCount };
  const started = performance.now();
  const model = await trainStaticModel(inputs.map((i) => ({ name: i.nameTokens, doc: i.docTokens, body: i.bodyTokens })), options);
  if (!model) fail('no definition has a token to learn from');
  const trainSeconds = (performance.now() - started) / 1000;
  const embedder = new StaticEmbedder(model);
  const vectors = await embedder.embedDocuments(inputs);
  const locations = inputs.map((i) => where.get(i.id));
  process.stdout.write(`model ${model.id}: ${model.vocabulary.length} tokens × ${model.dims} dims, learnt in ${trainSeconds.toFixed(1)} s from ${inputs.length} definitions\n`);

  const total = { cases: 0, found: CUTOFFS.map(() => 0) };
  for (const set of sets) {
    const cases = readFileSync(set, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as EvalCase)
      .filter((c) => c.kind !== 'symbol' && c.kind !== 'edit');
    const found = CUTOFFS.map(() => 0);
    for (const c of cases) {
      const rank = bestRank(await questionVector(parseQuery(c.query), (q, terms) => embedder.embedQuery(q, terms)), c);
      CUTOFFS.forEach((k, i) => (found[i]! += rank <= k ? 1 : 0));
    }
    total.cases += cases.length;
    found.forEach((n, i) => (total.found[i]! += n));
    process.stdout.write(`${set.split('/').pop()!.replace(/\.jsonl$/, '').padEnd(14)} n=${String(cases.length).padEnd(4)} ${recalls(found, cases.length)}\n`);
  }
  process.stdout.write(`${'all'.padEnd(14)} n=${String(total.cases).padEnd(4)} ${recalls(total.found, total.cases)}\n`);

  /** The rank of the case's best-placed answer among every definition by cosine (Infinity: none indexed). */
  function bestRank(question: Float32Array, c: EvalCase): number {
    const similarity = vectors.map((v) => dot(v, question));
    let best = Infinity;
    locations.forEach((at, i) => {
      if (!at || !c.expected.some((e) => e.path === at.path && e.line >= at.startLine && e.line <= at.endLine)) return;
      let above = 0;
      for (const s of similarity) if (s > similarity[i]!) above++;
      best = Math.min(best, above + 1);
    });
    return best;
  }
} finally {
  store.close();
}

function fail(message: string): never {
  process.stderr.write(`model-quality: ${message}\n`);
  process.exit(1);
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j]! * b[j]!;
  return s;
}

function recalls(found: number[], n: number): string {
  return CUTOFFS.map((k, i) => `R@${k} ${n ? (found[i]! / n).toFixed(3) : 'n/a'}`).join('  ');
}
