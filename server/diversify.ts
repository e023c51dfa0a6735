// After fusion, before the cut to k: a ranked list that shows more different answers. A
// definition and its `.mli` declaration are one answer (the better-ranked of the two stays, and
// names its partner), a vendored copy of a definition shown already is left out, and one file
// may not fill the list.
import type { RankedHit } from './fuse.js';

/** Hits from one file beyond this many wait until every other file has had its turn. */
export const MAX_HITS_PER_FILE = 3;

export interface DiversifiedHit extends RankedHit {
  /** The collapsed `.ml` ↔ `.mli` partner of this hit, when it was in the list too. */
  partner?: RankedHit;
}

export function collapsePairs(ranked: RankedHit[]): DiversifiedHit[] {
  const byId = new Map(ranked.map((h) => [h.chunk.id, h]));
  const dropped = new Set<string>();
  const out: DiversifiedHit[] = [];
  for (const hit of ranked) {
    if (dropped.has(hit.chunk.id)) continue;
    const partner = hit.chunk.counterpart ? byId.get(hit.chunk.counterpart) : undefined;
    if (partner) dropped.add(partner.chunk.id);
    out.push(partner ? { ...hit, partner } : hit);
  }
  return out;
}

/**
 * Each folded pair led by its `.ml` side, in place: "where does the compiler parse flags" asks for
 * the code that does it. Applied to the diversified list, so the same definitions are shown.
 */
export function implementationFirst(hits: DiversifiedHit[]): DiversifiedHit[] {
  return hits.map((hit) => {
    const partner = hit.partner;
    if (!partner || hit.chunk.lang !== 'mli' || partner.chunk.lang !== 'ml') return hit;
    const { partner: _, ...declaration } = hit;
    return { ...partner, score: hit.score, trace: [...partner.trace, ['implementation-of', hit.score - partner.score] as const], partner: declaration };
  });
}

/** Keeps the order, but moves each file's hits past the first MAX_HITS_PER_FILE to the end. */
export function capPerFile<T extends RankedHit>(ranked: T[], max = MAX_HITS_PER_FILE): T[] {
  const seen = new Map<string, number>();
  const head: T[] = [];
  const tail: T[] = [];
  for (const hit of ranked) {
    const n = (seen.get(hit.chunk.path) ?? 0) + 1;
    seen.set(hit.chunk.path, n);
    (n <= max ? head : tail).push(hit);
  }
  return [...head, ...tail];
}

/**
 * Drops a hit whose definition has the same kind, name and text as one ranked before it: a
 * vendored copy (dune's `Dune_re` is ocaml-re's code again) says nothing new and takes a place.
 * Texts are compared only between hits of the same kind, name and length.
 */
export function foldCopies<T extends RankedHit>(ranked: T[]): T[] {
  const seen = new Map<string, string[]>();
  return ranked.filter((hit) => {
    const { kind, name, text } = hit.chunk;
    if (!text) return true;
    const key = `${kind} ${name} ${text.length}`;
    const texts = seen.get(key);
    if (!texts) seen.set(key, [text]);
    else if (texts.includes(text)) return false;
    else texts.push(text);
    return true;
  });
}
