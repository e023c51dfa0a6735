// The `static` embedder: the model codesearch learns from the corpus itself (static-model.ts),
// kept in the index so queries use the same weights. Re-learnt when asked (`--retrain`) or when
// more than RETRAIN_DRIFT of the files changed since it was learnt; otherwise reused, so an
// incremental run embeds only the chunks that changed.
import { join } from 'node:path';
import { queryTokens } from '../text.js';
import { exportStaticModel } from './onnx-export.js';
import { registerEmbedder, EmbedderError, type Embedder, type EmbedInput } from './embedder.js';
import { StaticModel, trainStaticModel, type TokenBag } from './static-model.js';

export const RETRAIN_DRIFT = 0.1;

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

function toBag(input: EmbedInput): TokenBag {
  return { name: input.nameTokens, doc: input.docTokens, body: input.bodyTokens };
}

registerEmbedder({
  name: 'static',
  async forIndexing(_spec, context) {
    const stored = context.retrain ? undefined : await context.store.loadStaticModel();
    if (stored && context.drift <= RETRAIN_DRIFT) return new StaticEmbedder(stored);
    context.onProgress?.('train', 0, 1);
    const bags: TokenBag[] = [];
    for await (const batch of context.store.embedInputs({ text: false })) for (const input of batch) bags.push(toBag(input));
    const model = trainStaticModel(bags);
    if (!model) return undefined;
    await context.store.saveStaticModel(model);
    // The same weights as a transformers.js model directory, for tools that load ONNX models.
    if (context.store.isLocal) exportStaticModel(model, join(context.store.uri, 'models', 'static'));
    context.onProgress?.('train', 1, 1);
    return new StaticEmbedder(model);
  },
  async forQuerying(_spec, store, storedId) {
    const model = await store.loadStaticModel();
    if (!model) throw new EmbedderError("the index's static embedding model is missing; run 'codesearch index --retrain'");
    // The model table and the embedder id are written together; hashing 20 MB of weights on
    // every query would only re-prove it.
    return new StaticEmbedder(model, storedId);
  },
});
