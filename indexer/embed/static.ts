// The `static` embedder: the model codesearch learns from the corpus itself (static-model.ts),
// kept in the index so queries use the same weights. Re-learnt when asked (`--retrain`) or when
// more than RETRAIN_DRIFT of the files changed since it was learnt; otherwise reused, so an
// incremental run embeds only the chunks that changed.
import { join } from 'node:path';
import { queryTokens, unique } from '../text.js';
import type { IndexStore } from '../store.js';
import { registerEmbedder, ModelMissingError, type Embedder, type EmbedInput } from './embedder.js';
import { STATIC_RECIPE, StaticModel, trainStaticModel, type TokenBag } from './static-model.js';

export const RETRAIN_DRIFT = 0.1;
const MAX_REMEMBERED_TOKENS = 200_000;
const WHOLE_MODEL_ABOVE = 5000;

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

  async embedQuery(query: string, codeTerms: readonly string[] = []): Promise<Float32Array> {
    return this.model.embedTokens(questionTokens(query, codeTerms));
  }
}

/**
 * The static model as stored in the index, read a token at a time: a query or an incremental
 * run reads only the rows of its own tokens (a few through the token index), once per token,
 * instead of loading all of the model's tens of thousands of rows. A vector from a subset of the
 * rows is the same vector: a text's vector only reads the rows of its tokens.
 */
export class StoredStaticEmbedder implements Embedder {
  readonly readsText = false;
  readonly dims: number;

  constructor(
    private readonly store: IndexStore,
    readonly id: string,
    /**
     * The model rows read so far, by token (null: not in the vocabulary), and whether that is all
     * of them. A long-lived reader ends up with the few thousand words people ask about instead
     * of a read per query, and hands them on to the next version of the index (same model id,
     * same rows).
     */
    private readonly read: { rows: Map<string, { idf: number; vector: Float32Array } | null>; complete: boolean } = { rows: new Map(), complete: false },
  ) {
    this.dims = Number(/-(\d+)d-/.exec(id)?.[1] ?? 0);
  }

  forNewerVersion(store: IndexStore): StoredStaticEmbedder {
    return new StoredStaticEmbedder(store, this.id, this.read);
  }

  async embedDocuments(inputs: readonly EmbedInput[]): Promise<Float32Array[]> {
    const bags = inputs.map(toBag);
    const tokens = new Set<string>();
    for (const bag of bags) for (const text of [bag.name, bag.doc, bag.body]) for (const t of text.split(' ')) if (t) tokens.add(t);
    const model = await this.modelOf([...tokens]);
    return bags.map((bag) => model.embed(bag));
  }

  async embedQuery(query: string, codeTerms: readonly string[] = []): Promise<Float32Array> {
    const tokens = questionTokens(query, codeTerms);
    return (await this.modelOf(tokens)).embedTokens(tokens);
  }

  /** The model restricted to `tokens` (those in its vocabulary), reading the rows not read yet. */
  private async modelOf(tokens: readonly string[]): Promise<StaticModel> {
    const missing = this.read.complete ? [] : [...new Set(tokens)].filter((t) => !this.read.rows.has(t));
    if (missing.length > 0) {
      // Words outside the vocabulary are remembered too; a flood of them starts the memory over.
      if (this.read.rows.size > MAX_REMEMBERED_TOKENS) this.read.rows.clear();
      // Past a few thousand tokens (a large incremental run) one scan beats a long IN list.
      const whole = missing.length > WHOLE_MODEL_ABOVE;
      const model = await this.store.loadStaticModel(this.id, whole ? undefined : missing);
      if (!model) throw new ModelMissingError("the index's static embedding model is missing; run 'codesearch index --retrain'");
      model.vocabulary.forEach((token, i) => this.read.rows.set(token, { idf: model.idf[i]!, vector: model.vectors.subarray(i * model.dims, (i + 1) * model.dims) }));
      if (whole) this.read.complete = true;
      else for (const t of missing) if (!this.read.rows.has(t)) this.read.rows.set(t, null);
    }
    const known = [...new Set(tokens)].filter((t) => this.read.rows.get(t));
    const vectors = new Float32Array(known.length * this.dims);
    known.forEach((t, i) => vectors.set(this.read.rows.get(t)!.vector, i * this.dims));
    return new StaticModel(known, Float32Array.from(known, (t) => this.read.rows.get(t)!.idf), vectors, this.dims);
  }
}

/** What a question's vector is made of: its words' tokens and the code terms they stand for, each once. */
function questionTokens(query: string, codeTerms: readonly string[]): string[] {
  return unique([...queryTokens(query), ...codeTerms]);
}

function toBag(input: EmbedInput): TokenBag {
  return { name: input.nameTokens, doc: input.docTokens, body: input.bodyTokens };
}

/** Whether `storedId` names a model of another recipe than this version's (or none). */
const outdated = (storedId: string) => !storedId.startsWith(`static-r${STATIC_RECIPE}-`);

registerEmbedder({
  name: 'static',
  learnsFromCorpus: true,
  outdated,
  async forIndexing(_spec, context) {
    // The stored model, read lazily: an incremental run embeds a few chunks with a few rows.
    const reuse = !context.retrain && !outdated(context.storedId) && context.drift <= RETRAIN_DRIFT && (await context.store.loadStaticModel(context.storedId, []));
    if (reuse) return new StoredStaticEmbedder(context.store, context.storedId);
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
  forQuerying: async (_spec, store, storedId) => new StoredStaticEmbedder(store, storedId),
});
