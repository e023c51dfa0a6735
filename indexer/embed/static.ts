// The `static` embedder: the model codesearch learns from the corpus itself (static-model.ts),
// kept in the index so queries use the same weights. Re-learnt when asked (`--retrain`) or when
// more than RETRAIN_DRIFT of the files changed since it was learnt; otherwise reused, so an
// incremental run embeds only the chunks that changed.
import { join } from 'node:path';
import { queryTokens } from '../text.js';
import type { IndexStore } from '../store.js';
import { registerEmbedder, EmbedderError, type Embedder, type EmbedInput } from './embedder.js';
import { StaticModel, trainStaticModel, type TokenBag } from './static-model.js';

export const RETRAIN_DRIFT = 0.1;
const MAX_REMEMBERED_TOKENS = 200_000;

export class StaticEmbedder implements Embedder {
  readonly dims: number;
  readonly readsText = false;

  constructor(
    readonly model: StaticModel,
    readonly id: string = model.id,
  ) {
    this.dims = model.dims;
  }

  async embedDocuments(inputs: readonly EmbedInput[]): Promise<Float32Array[]> {
    return inputs.map((i) => this.model.embed(toBag(i)));
  }

  async embedQuery(query: string): Promise<Float32Array> {
    return this.model.embedTokens(queryTokens(query));
  }
}

/**
 * The static model on the query side: a query reads only its own tokens' vectors from the index
 * (a few rows through the token index), once per token, instead of loading the whole model.
 */
export class StaticQueryEmbedder implements Embedder {
  readonly readsText = false;
  readonly dims: number;

  constructor(
    private readonly store: IndexStore,
    readonly id: string,
  ) {
    this.dims = Number(/-(\d+)d-/.exec(id)?.[1] ?? 0);
  }

  /**
   * The model rows this embedder has read, by token (null: not in the vocabulary). A long-lived
   * reader ends up with the few thousand words people ask about, instead of a read per query.
   */
  private readonly rows = new Map<string, { idf: number; vector: Float32Array } | null>();

  async embedDocuments(): Promise<Float32Array[]> {
    throw new Error('StaticQueryEmbedder embeds queries only');
  }

  async embedQuery(query: string): Promise<Float32Array> {
    const tokens = queryTokens(query);
    const missing = tokens.filter((t) => !this.rows.has(t));
    if (missing.length > 0) {
      // Words outside the vocabulary are remembered too; a flood of them starts the memory over.
      if (this.rows.size > MAX_REMEMBERED_TOKENS) this.rows.clear();
      const model = await this.store.loadStaticModel(this.id, missing);
      if (!model) throw new EmbedderError("the index's static embedding model is missing; run 'codesearch index --retrain'");
      model.vocabulary.forEach((token, i) => this.rows.set(token, { idf: model.idf[i]!, vector: model.vectors.subarray(i * model.dims, (i + 1) * model.dims) }));
      for (const t of missing) if (!this.rows.has(t)) this.rows.set(t, null);
    }
    const known = [...new Set(tokens)].filter((t) => this.rows.get(t));
    if (known.length === 0) return new Float32Array(this.dims);
    const vectors = new Float32Array(known.length * this.dims);
    known.forEach((t, i) => vectors.set(this.rows.get(t)!.vector, i * this.dims));
    return new StaticModel(known, Float32Array.from(known, (t) => this.rows.get(t)!.idf), vectors, this.dims).embedTokens(tokens);
  }
}

function toBag(input: EmbedInput): TokenBag {
  return { name: input.nameTokens, doc: input.docTokens, body: input.bodyTokens };
}

registerEmbedder({
  name: 'static',
  async forIndexing(_spec, context) {
    const stored = context.retrain || !context.storedId ? undefined : await context.store.loadStaticModel(context.storedId);
    if (stored && context.drift <= RETRAIN_DRIFT) return new StaticEmbedder(stored);
    context.onProgress?.('train', 0, 1);
    const inputs: EmbedInput[] = [];
    for await (const batch of context.store.embedInputs({ text: false })) inputs.push(...batch);
    // Rows come back in the order parser threads finished; sorted, the same tree always gives
    // bit-identical weights.
    inputs.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const model = await trainStaticModel(inputs.map(toBag));
    if (!model) return undefined;
    await context.store.saveStaticModel(model);
    // The same weights as a transformers.js model directory, for tools that load ONNX models.
    if (context.store.isLocal) (await import('./onnx-export.js')).exportStaticModel(model, join(context.store.uri, 'models', 'static'));
    context.onProgress?.('train', 1, 1);
    return new StaticEmbedder(model);
  },
  // The model table and the embedder id are written together; hashing 20 MB of weights on
  // every query would only re-prove it.
  forQuerying: async (_spec, store, storedId) => new StaticQueryEmbedder(store, storedId),
});
