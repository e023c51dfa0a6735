// packToBudget: the ranked candidates into a window that is never over its token budget. Most
// relevant first; overlapping spans of a file become one span (no line twice), and so do adjacent
// ones up to MAX_JOINED_LINES; at most MAX_ITEMS_PER_FILE items from a file besides its seeds (the
// file a change lands in holds many seeds, and the places they bring there are the change's too:
// edits.jsonl 0.958 -> 0.976, edits-6 0.767 -> 0.808 on the full-corpus index); a definition too
// long for what is left is cut to its head (signature) rather than dropped.
import type { ContextCandidate, ContextItem, ContextWindow } from './item.js';
import { renderItem, renderWindow } from './render.js';
import type { CountTokens } from './tokens.js';

export const MAX_ITEMS_PER_FILE = 8;
/**
 * Adjacent spans join into one block no longer than this, the index's own chunk size: the parts of
 * a definition the index split stay blocks a reader can be pointed at, not one of 240 lines
 * (`Warnings.message`, edit-006, was shown 695–935 once its second part was a seed as well).
 */
const MAX_JOINED_LINES = 150;
/** A head longer than this many lines is no longer a signature. */
const MAX_HEAD_LINES = 6;

export function packToBudget(candidates: readonly ContextCandidate[], budget: number, count: CountTokens): ContextWindow {
  const ordered = [...candidates].sort((a, b) => b.score - a.score);
  const items: ContextItem[] = [];
  const costs: number[] = [];
  const perFile = new Map<string, number>();
  const seen = new Set<string>();
  let used = 0;
  // Each item is charged for its block and the line break that joins it to the next. A block
  // ends with a fence line and the next starts with `###`: no pre-token of the BPE tokenizers
  // (o200k_base, cl100k_base) spans the join, so the window's count is the sum of its blocks'
  // and the window is not counted again (it was 45% of the counting).
  const costOf = (item: ContextItem) => count(`${renderItem(item)}\n`);

  for (const candidate of ordered) {
    if (seen.has(candidate.chunk.id)) continue;
    seen.add(candidate.chunk.id);
    const full = itemOf(candidate);
    const near = items.findIndex((it) => it.path === full.path && (overlap(it, full) || (adjacent(it, full) && Math.max(it.endLine, full.endLine) - Math.min(it.startLine, full.startLine) < MAX_JOINED_LINES)));
    if (near >= 0) {
      const existing = items[near]!;
      const merged = mergeSpans(existing, full);
      const cost = costOf(merged);
      if (used - costs[near]! + cost <= budget) {
        used += cost - costs[near]!;
        items[near] = merged;
        costs[near] = cost;
      }
      continue;
    }
    if (!candidate.seed && (perFile.get(full.path) ?? 0) >= MAX_ITEMS_PER_FILE) continue;
    for (const item of [full, head(full)]) {
      if (!item) continue;
      const cost = costOf(item);
      if (used + cost > budget) continue;
      items.push(item);
      costs.push(cost);
      used += cost;
      if (!candidate.seed) perFile.set(item.path, (perFile.get(item.path) ?? 0) + 1);
      break;
    }
  }

  // The last block has no line break after it; should that ever count more, it comes off.
  let tokens = 0;
  while (items.length > 0) {
    tokens = used - costs[costs.length - 1]! + count(renderItem(items[items.length - 1]!));
    if (tokens <= budget) break;
    items.pop();
    used -= costs.pop()!;
    tokens = 0;
  }
  return { items, tokens, budget, text: renderWindow(items) };
}

const overlap = (a: ContextItem, b: ContextItem) => b.startLine <= a.endLine && b.endLine >= a.startLine;
const adjacent = (a: ContextItem, b: ContextItem) => b.startLine === a.endLine + 1 || b.endLine === a.startLine - 1;

function itemOf(c: ContextCandidate): ContextItem {
  const { chunk } = c;
  return {
    path: chunk.path,
    startLine: chunk.startLine,
    endLine: chunk.endLine,
    name: chunk.name,
    symbol: chunk.symbol,
    kind: chunk.kind,
    score: Number(c.score.toFixed(4)),
    reason: c.reason,
    text: chunk.text,
    ...(chunk.doc && !chunk.text.includes('(**') ? { doc: chunk.doc } : {}),
  };
}

/** One span covering two overlapping or adjacent ones of a file, keeping the first's identity. */
export function mergeSpans(a: ContextItem, b: ContextItem): ContextItem {
  const [first, second] = a.startLine <= b.startLine ? [a, b] : [b, a];
  const reasons = new Set([...(a.alsoReasons ?? []), b.reason, ...(b.alsoReasons ?? [])]);
  reasons.delete(a.reason);
  const { truncated: _cut, ...identity } = a;
  if (second.endLine <= first.endLine) {
    // Contained: the outer span already holds every line.
    return { ...identity, startLine: first.startLine, endLine: first.endLine, text: first.text, ...(first.truncated ? { truncated: true } : {}), ...(reasons.size ? { alsoReasons: [...reasons] } : {}) };
  }
  const tail = second.text.split('\n').slice(first.endLine - second.startLine + 1);
  return {
    ...identity,
    startLine: first.startLine,
    endLine: second.endLine,
    text: [first.text, ...tail].join('\n'),
    // Whether the end is cut is the later span's to say.
    ...(second.truncated ? { truncated: true } : {}),
    ...(reasons.size ? { alsoReasons: [...reasons] } : {}),
  };
}

/**
 * A definition's head — its lines up to the `=` that starts the body (or the first line of a
 * type or module) — as a truncated item; undefined when the whole is no longer than that.
 */
export function head(item: ContextItem): ContextItem | undefined {
  const lines = item.text.split('\n');
  let n = lines.findIndex((l) => /=/.test(l)) + 1;
  if (n <= 0 || n > MAX_HEAD_LINES) n = 1;
  if (n >= lines.length) return undefined;
  return { ...item, endLine: item.startLine + n - 1, text: lines.slice(0, n).join('\n'), truncated: true };
}
