// `codesearch stats`: per strategy, what `codesearch serve` answered and what clients said of it.
import { dbForQuerying } from '../config.js';
import { OUTCOMES, StatsLog } from '../../server/stats.js';
import { localStateDir } from '../../indexer/location.js';

export async function runStats(opts: { db?: string; json?: boolean }): Promise<void> {
  const summary = StatsLog.open(localStateDir(dbForQuerying(opts.db, process.env, process.cwd()))).summary();
  if (opts.json) {
    process.stdout.write(JSON.stringify({ strategies: summary }) + '\n');
    return;
  }
  const rows = Object.entries(summary);
  if (rows.length === 0) {
    process.stdout.write('no answers recorded yet (codesearch serve records them)\n');
    return;
  }
  const header = ['strategy', 'requests', 'p50 ms', 'p95 ms', 'tokens', 'items', ...OUTCOMES];
  const lines = rows.map(([name, s]) => [name, String(s.requests), String(s.latencyMs.p50), String(s.latencyMs.p95), String(Math.round(s.meanTokens)), s.meanItems.toFixed(1), ...OUTCOMES.map((o) => `${s.outcomes[o]} (${Math.round(s.outcomeRates[o] * 100)}%)`)]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  for (const line of [header, ...lines]) process.stdout.write(line.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ') + '\n');
}
