// What happened to the answers a server gave: each /v1/context and /v1/search answer (its
// strategy, latency, size) and the feedback clients post about it (accepted, applied, build
// green...). Kept in the index directory as JSON Lines, so the figures survive restarts; the
// file keeps the newest events (50,000 by default) and is rewritten when it holds twice that.
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { percentile } from './percentile.js';

export const OUTCOMES = ['accepted', 'rejected', 'applied', 'build-green', 'build-red'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export const STATS_FILE = 'stats.jsonl';
const MAX_EVENTS = 50_000;

interface AnswerEvent {
  kind: 'answer';
  requestId: string;
  /** The context strategy, or `search` for a search. */
  strategy: string;
  clientId?: string;
  ms: number;
  tokens: number;
  items: number;
  at: string;
}

interface FeedbackEvent {
  kind: 'feedback';
  requestId: string;
  outcome: Outcome;
  at: string;
}

type StatsEvent = AnswerEvent | FeedbackEvent;

export interface StrategyStats {
  requests: number;
  latencyMs: { p50: number; p95: number };
  meanTokens: number;
  meanItems: number;
  /** Feedback received, by outcome (the last word per request counts). */
  outcomes: Record<Outcome, number>;
  /** Each outcome's count over the requests. */
  outcomeRates: Record<Outcome, number>;
}

export class StatsLog {
  private readonly events: StatsEvent[] = [];
  private readonly answered = new Set<string>();
  private unwritable = false;
  private dirMade = false;

  private constructor(
    private readonly file: string,
    private readonly maxEvents: number,
  ) {}

  /** The log of the index at `dbDir` (created on first write); unreadable lines are skipped. */
  static open(dbDir: string, options: { maxEvents?: number } = {}): StatsLog {
    const log = new StatsLog(join(dbDir, STATS_FILE), options.maxEvents ?? MAX_EVENTS);
    if (existsSync(log.file)) {
      let text = '';
      try {
        text = readFileSync(log.file, 'utf8');
      } catch (err) {
        process.stderr.write(`codesearch: cannot read stats from ${log.file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); starting afresh\n`);
      }
      for (const line of text.split('\n')) {
        try {
          if (line.trim()) log.remember(JSON.parse(line) as StatsEvent);
        } catch {
          // A torn last line from a crash: the rest still counts.
        }
      }
    }
    return log;
  }

  recordAnswer(answer: Omit<AnswerEvent, 'kind' | 'at'>): void {
    this.append({ kind: 'answer', ...answer, ms: Math.round(answer.ms * 10) / 10, at: new Date().toISOString() });
  }

  /** False when no answer with this id is on record (it is then not recorded either). */
  recordFeedback(requestId: string, outcome: Outcome): boolean {
    if (!this.answered.has(requestId)) return false;
    this.append({ kind: 'feedback', requestId, outcome, at: new Date().toISOString() });
    return true;
  }

  summary(): Record<string, StrategyStats> {
    const answers = new Map<string, AnswerEvent>();
    const verdicts = new Map<string, Outcome>();
    for (const e of this.events) {
      if (e.kind === 'answer') answers.set(e.requestId, e);
      else verdicts.set(e.requestId, e.outcome);
    }
    const byStrategy = new Map<string, AnswerEvent[]>();
    for (const a of answers.values()) byStrategy.set(a.strategy, [...(byStrategy.get(a.strategy) ?? []), a]);
    const out: Record<string, StrategyStats> = {};
    for (const [strategy, list] of [...byStrategy].sort(([a], [b]) => a.localeCompare(b))) {
      const ms = list.map((a) => a.ms).sort((x, y) => x - y);
      const outcomes = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
      for (const a of list) {
        const verdict = verdicts.get(a.requestId);
        if (verdict) outcomes[verdict]++;
      }
      out[strategy] = {
        requests: list.length,
        latencyMs: { p50: percentile(ms, 50), p95: percentile(ms, 95) },
        meanTokens: round(list.reduce((n, a) => n + a.tokens, 0) / list.length),
        meanItems: round(list.reduce((n, a) => n + a.items, 0) / list.length),
        outcomes,
        outcomeRates: Object.fromEntries(OUTCOMES.map((o) => [o, round(outcomes[o] / list.length)])) as Record<Outcome, number>,
      };
    }
    return out;
  }

  private remember(e: StatsEvent): void {
    this.events.push(e);
    if (e.kind === 'answer') this.answered.add(e.requestId);
  }

  private append(e: StatsEvent): void {
    this.remember(e);
    try {
      if (this.events.length > 2 * this.maxEvents) {
        this.events.splice(0, this.events.length - this.maxEvents);
        this.answered.clear();
        for (const kept of this.events) if (kept.kind === 'answer') this.answered.add(kept.requestId);
        // Whole or not at all: a crash mid-rewrite leaves the old file.
        writeFileSync(`${this.file}.tmp`, this.events.map((x) => JSON.stringify(x)).join('\n') + '\n');
        renameSync(`${this.file}.tmp`, this.file);
        return;
      }
      // A server of a shared index keeps its own log in a state directory made on first use.
      if (!this.dirMade) mkdirSync(dirname(this.file), { recursive: true });
      this.dirMade = true;
      appendFileSync(this.file, JSON.stringify(e) + '\n');
    } catch (err) {
      // A read-only index directory: the figures stay in memory; answering matters more.
      if (!this.unwritable) process.stderr.write(`codesearch: cannot record stats in ${this.file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); keeping them in memory\n`);
      this.unwritable = true;
    }
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
