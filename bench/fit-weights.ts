// `npm run fit -- [CASES.jsonl]... [--db DIR]... [--folds N] [--mode hybrid|lexical]`: how far the
// fusion weights are from the best the eval questions allow (default: the shared dev cases and
// every set in bench/cases/), and whether that would generalise. Every question is retrieved and
// fused once per index, with the trace of what each hit scored for; each fusion signal's points
// then take a multiplier, and coordinate ascent picks the multipliers that maximise Recall@10 +
// MRR@10 (graded as the shared grader does). The fit is tested on the sets it did not see, and
// k-fold cross-validated over all sets together, a question's indexes in one fold. A multiplier
// is worth moving into server/fuse.ts only where the held-out figures gain and every fold moves
// it the same way. Indexes built from different static-model seeds (`--db` repeated) keep the
// fit from chasing one model's noise.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { byRank } from '../server/fuse.js';
import { presentHits, Searcher, type FusedList } from '../server/search.js';

/** A multiplier for each fusion signal, by the name it has in a hit's trace; 1 where absent. */
export type Multipliers = Readonly<Record<string, number>>;

interface Expected {
  path: string;
  line: number;
}

export interface FitCase {
  id: string;
  kind: string;
  query: string;
  expected: Expected[];
}

/** One question fused on one index, and the set it belongs to. */
export interface FusedCase {
  set: string;
  case: FitCase;
  fused: FusedList;
}

const GRID = [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 3];
const ROUNDS = 3;
const TOP = 10;

/** The fused list re-scored with each signal's points times its multiplier. */
export function rescore(fused: FusedList, multipliers: Multipliers): FusedList {
  const ranked = fused.ranked.map((hit) => {
    let score = 0;
    for (const [signal, points] of hit.trace) score += (multipliers[signal] ?? 1) * points;
    return { ...hit, score };
  });
  return { ...fused, ranked: ranked.sort(byRank) };
}

/** The shared grader's rule: a shown definition of at most 200 lines holding an expected line. */
function rankOf(item: FusedCase, multipliers: Multipliers): number {
  const shown = presentHits(rescore(item.fused, multipliers), { k: TOP });
  const holds = (e: Expected, c: { path: string; startLine: number; endLine: number }) => c.path === e.path && c.startLine <= e.line && e.line <= c.endLine && c.endLine - c.startLine < 200;
  return shown.findIndex((hit) => item.case.expected.some((e) => holds(e, hit.chunk))) + 1;
}

export interface Figures {
  recall: number;
  mrr: number;
}

/** Recall@10 and MRR@10 of the ranks of the first hit (0: none in the first 10). */
function figures(ranks: readonly number[]): Figures {
  const found = ranks.filter((r) => r > 0);
  const n = Math.max(1, ranks.length);
  return { recall: found.length / n, mrr: found.reduce((sum, r) => sum + 1 / r, 0) / n };
}

export function grade(items: readonly FusedCase[], multipliers: Multipliers): Figures {
  return figures(items.map((item) => rankOf(item, multipliers)));
}

/** Coordinate ascent over the grid, a few rounds, from every multiplier at 1. */
export function fit(items: readonly FusedCase[]): Multipliers {
  const signals = [...new Set(items.flatMap((item) => item.fused.ranked.flatMap((hit) => hit.trace.map(([signal]) => signal))))].sort();
  const objective = (m: Multipliers) => {
    const f = grade(items, m);
    return f.recall + f.mrr;
  };
  let best: Record<string, number> = {};
  let bestValue = objective(best);
  for (let round = 0; round < ROUNDS; round++) {
    let moved = false;
    for (const signal of signals) {
      for (const value of GRID) {
        const trial = { ...best, [signal]: value };
        const v = objective(trial);
        if (v > bestValue + 1e-9) {
          best = trial;
          bestValue = v;
          moved = true;
        }
      }
    }
    if (!moved) break;
  }
  return Object.fromEntries(Object.entries(best).filter(([, v]) => v !== 1));
}

export interface CrossValidation {
  /** Held-out figures per set, every question graded by the fit of the folds without it. */
  heldOut: Map<string, Figures>;
  perFold: Multipliers[];
  /** Signals every fold moved the same way, with the smallest move: the candidates to take. */
  agreed: Multipliers;
}

export function crossValidate(items: readonly FusedCase[], folds: number): CrossValidation {
  const questions = [...new Set(items.map((i) => `${i.set}\0${i.case.id}`))];
  const foldOf = new Map(questions.map((q, n) => [q, n % folds]));
  const inFold = (item: FusedCase, f: number) => foldOf.get(`${item.set}\0${item.case.id}`) === f;
  const perFold: Multipliers[] = [];
  // Each set's held-out ranks, every question ranked by the fit of the folds without it.
  const heldRanks = new Map<string, number[]>();
  for (let f = 0; f < folds; f++) {
    const m = fit(items.filter((item) => !inFold(item, f)));
    perFold.push(m);
    for (const item of items.filter((i) => inFold(i, f))) (heldRanks.get(item.set) ?? heldRanks.set(item.set, []).get(item.set)!).push(rankOf(item, m));
  }
  const heldOut = new Map([...heldRanks].map(([set, ranks]) => [set, figures(ranks)]));
  const agreed: Record<string, number> = {};
  for (const signal of new Set(perFold.flatMap((m) => Object.keys(m)))) {
    const values = perFold.map((m) => m[signal] ?? 1);
    if (values.every((v) => v > 1)) agreed[signal] = Math.min(...values);
    else if (values.every((v) => v < 1)) agreed[signal] = Math.max(...values);
  }
  return { heldOut, perFold, agreed };
}

export function loadCases(file: string): FitCase[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as FitCase)
    .filter((c) => c.kind !== 'edit');
}

/** Fuses every question of every set on every index, keeping each hit's trace. */
export async function fuseCases(dbs: readonly string[], sets: ReadonlyMap<string, FitCase[]>, mode: 'hybrid' | 'lexical'): Promise<FusedCase[]> {
  const items: FusedCase[] = [];
  for (const db of dbs) {
    const searcher = await Searcher.open(db, { resident: true });
    try {
      for (const [set, cases] of sets) {
        for (const c of cases) items.push({ set, case: c, fused: await searcher.searchFused(c.query, { k: TOP, mode, explain: true }) });
      }
    } finally {
      searcher.close();
    }
  }
  return items;
}

async function main(): Promise<void> {
  const USAGE = 'usage: npm run fit -- [CASES.jsonl]... [--db DIR]... [--folds N] [--mode hybrid|lexical]\n';
  let parsed;
  try {
    parsed = parseArgs({ allowPositionals: true, options: { db: { type: 'string', multiple: true }, folds: { type: 'string', default: '5' }, mode: { type: 'string', default: 'hybrid' }, help: { type: 'boolean', short: 'h' } } });
  } catch (err) {
    process.stderr.write(`fit: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const repo = resolve(fileURLToPath(new URL('../..', import.meta.url)));
  const mode = values.mode;
  const folds = Number(values.folds);
  if ((mode !== 'hybrid' && mode !== 'lexical') || !Number.isInteger(folds) || folds < 2) {
    process.stderr.write(`fit: --mode is hybrid or lexical and --folds an integer of at least 2\n${USAGE}`);
    process.exit(2);
  }
  const ours = join(repo, 'bench/cases');
  const files = positionals.length > 0 ? positionals.map((f) => resolve(f)) : [join(repo, '../shared/eval/dev.jsonl'), ...readdirSync(ours).filter((f) => f.endsWith('.jsonl')).sort().map((f) => join(ours, f))].filter((f) => existsSync(f));
  const corpus = resolve(process.env.CODESEARCH_CORPUS ?? join(repo, '../corpus'));
  const dbs = (values.db ?? [process.env.CODESEARCH_DB ?? join(corpus, '.codesearch')]).map((d) => resolve(d));
  // A set of edit cases only (bench/cases/edits.jsonl) has no question to fit on.
  const sets = new Map(files.map((f) => [basename(f, '.jsonl'), loadCases(f)] as const).filter(([, cases]) => cases.length > 0));
  const items = await fuseCases(dbs, sets, mode);
  const fmt = (f: Figures) => `${f.recall.toFixed(3)} / ${f.mrr.toFixed(3)}`;
  const bySet = (m: Multipliers) => [...sets.keys()].map((s) => `${s} ${fmt(grade(items.filter((i) => i.set === s), m))}`).join(', ');
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`fit: ${items.length} fused questions (${[...sets].map(([s, c]) => `${s} ${c.length}`).join(', ')}; ${dbs.length} index(es)), ${mode}, Recall@10 / MRR@10`);
  out(`  current weights: ${bySet({})}`);
  if (sets.size > 1) {
    for (const set of sets.keys()) {
      const m = fit(items.filter((i) => i.set === set));
      out(`  fitted on ${set} alone ${JSON.stringify(m)}: ${bySet(m)}`);
    }
  }
  const all = fit(items);
  out(`  fitted on every set ${JSON.stringify(all)}: ${bySet(all)} (in-sample)`);
  const cv = crossValidate(items, folds);
  cv.perFold.forEach((m, f) => out(`  fold ${f + 1} of ${folds}: ${JSON.stringify(m)}`));
  out(`  cross-validated, held out: ${[...cv.heldOut].map(([s, f]) => `${s} ${fmt(f)}`).join(', ')}`);
  out(`  every fold agrees on ${JSON.stringify(cv.agreed)}: ${bySet(cv.agreed)}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
