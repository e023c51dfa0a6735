// The context pipeline: query → retrieve → fuse (the Searcher) → expand → pack → render. Given a
// prompt and optionally where the user is (file, line), returns the window an LLM needs to write
// a change that applies and type-checks, exactly within a token budget.
import type { IndexStore, ChunkHit } from '../../indexer/store.js';
import type { Searcher } from '../search.js';
import { parseQuery } from '../query.js';
import { expand, type Seed } from './expand.js';
import type { ContextWindow } from './item.js';
import { packToBudget } from './pack.js';
import { DEFAULT_ENCODING, tokenCounter, type CountTokens, type EncodingName } from './tokens.js';

export const DEFAULT_BUDGET = 8000;
export const MIN_BUDGET = 50;
export const MAX_BUDGET = 200_000;
/** Search hits taken as seeds. */
const SEEDS = 16;
/** The user's own definition leads every search hit by this much; the same directory counts for more. */
const CURSOR_LEAD = 1;
const SAME_DIRECTORY = 1.2;
/** A definition the prompt names in code (`Cart.total`) is what the change is about. */
const NAMED_IN_PROMPT = 1.5;
/** The verb of an imperative prompt says what to do, not what to look for. */
const INSTRUCTION = /^\s*(?:please\s+)?(?:add|make|change|update|fix|remove|delete|rename|implement|support|extend|refactor|replace|introduce|create|write|move|let|allow)\b\s*/i;

/** The prompt as a search query: without its leading instruction verb ("Add X to Y" → "X to Y"). */
export function searchableQuery(prompt: string): string {
  const stripped = prompt.replace(INSTRUCTION, '');
  return stripped.trim() ? stripped : prompt;
}

export interface ContextRequest {
  prompt: string;
  budget?: number;
  /** Where the user is: a path relative to the indexed root. */
  file?: string;
  line?: number;
}

/** A request that names something the index does not have (a file outside it, a bad budget). */
export class ContextRequestError extends Error {}

export class ContextBuilder {
  private constructor(
    private readonly searcher: Searcher,
    private readonly count: CountTokens,
  ) {}

  static async create(searcher: Searcher, encoding: EncodingName = DEFAULT_ENCODING): Promise<ContextBuilder> {
    return new ContextBuilder(searcher, await tokenCounter(encoding));
  }

  async build(request: ContextRequest): Promise<ContextWindow> {
    const budget = request.budget ?? DEFAULT_BUDGET;
    if (!Number.isInteger(budget) || budget < MIN_BUDGET || budget > MAX_BUDGET) {
      throw new ContextRequestError(`budget must be an integer between ${MIN_BUDGET} and ${MAX_BUDGET}, got ${budget}`);
    }
    const prompt = request.prompt.trim();
    if (!prompt && !request.file) throw new ContextRequestError('give a prompt, a file, or both');
    const store = this.searcher.store;
    const cursor = request.file ? await cursorSeed(store, request.file, request.line) : undefined;

    const query = searchableQuery(prompt);
    const hits = query ? await this.searcher.searchRanked(query, { k: SEEDS }) : [];
    const top = hits[0]?.score || 1;
    const dir = request.file?.slice(0, request.file.lastIndexOf('/') + 1);
    const named = parseQuery(prompt).identifiers;
    const seeds: Seed[] = hits.map((h) => ({
      chunk: h.chunk,
      reason: 'match',
      score:
        (h.score / top) *
        (dir !== undefined && h.chunk.path.startsWith(dir) ? SAME_DIRECTORY : 1) *
        (named.some((id) => id.name === h.chunk.name && h.chunk.symbol.endsWith([...id.qualifiers, id.name].join('.'))) ? NAMED_IN_PROMPT : 1),
    }));
    seeds.sort((a, b) => b.score - a.score);
    // The user's own definition (and, through expansion, its interface) comes before any hit.
    if (cursor) seeds.unshift({ chunk: cursor, reason: 'cursor', score: (seeds[0]?.score ?? 0) + CURSOR_LEAD });
    return packToBudget(await expand(seeds, store), budget, this.count);
  }
}

/** The definition around `line` of `file` (the innermost one), or the file's first when no line is given. */
async function cursorSeed(store: IndexStore, file: string, line: number | undefined): Promise<ChunkHit | undefined> {
  const chunks = await store.chunksOfFile(file);
  if (chunks.length === 0) throw new ContextRequestError(`${file} is not in the index (a path relative to the indexed root, e.g. src/foo.ml)`);
  if (line === undefined) return undefined;
  const around = chunks.filter((c) => c.startLine <= line && line <= c.endLine);
  if (around.length > 0) return around.reduce((a, b) => (b.endLine - b.startLine < a.endLine - a.startLine ? b : a));
  // Between definitions: the nearest one above.
  return chunks.filter((c) => c.startLine <= line).pop() ?? chunks[0];
}
