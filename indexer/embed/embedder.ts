// The embed stage's seam: every embedder turns definitions and queries into vectors. Embedders
// are chosen by name from a registry; what was chosen is stored in the index (`EmbedderSpec`),
// so the query side embeds questions with the very model that embedded the corpus.
import type { IndexStore } from '../store.js';

/** What a definition offers an embedder: identifier-aware tokens for the static model, text for neural ones. */
export interface EmbedInput {
  id: string;
  nameTokens: string;
  docTokens: string;
  bodyTokens: string;
  symbol: string;
  kind: string;
  doc: string;
  text: string;
}

export interface Embedder {
  /** Identity of the model: vectors made under another id are never compared with this one's. */
  readonly id: string;
  readonly dims: number;
  /** False when only the token fields of `EmbedInput` are read (they are cheaper to load). */
  readonly readsText: boolean;
  embedDocuments(inputs: readonly EmbedInput[]): Promise<Float32Array[]>;
  /**
   * `codeTerms`: index tokens the question's words stand for in code (`hashtbl` for "hashtable",
   * `deadcode` for "dead code"). A model of tokens embeds them with the question's own; a model
   * of text reads the question as typed.
   */
  embedQuery(query: string, codeTerms?: readonly string[]): Promise<Float32Array>;
  /**
   * The same model over a newer version of the index (a server after an update), keeping what
   * it has loaded: the one instance when it does not read the index. Absent: loaded anew.
   */
  forNewerVersion?(store: IndexStore): Embedder;
  close?(): Promise<void>;
}

/** How an index's embedder is configured; stored in the index meta as JSON. */
export interface EmbedderSpec {
  name: string;
  /** transformers: a local model directory. */
  model?: string;
  /** http: OpenAI-compatible endpoint base URLs (`.../v1`). */
  urls?: string[];
  /** http: the model name sent in requests. */
  remoteModel?: string;
  device?: string;
  dtype?: string;
  queryPrefix?: string;
  documentPrefix?: string;
  batchSize?: number;
}

/** What an embedder may need while indexing: the store's definitions to learn from. */
export interface EmbedderContext {
  /** The index: its definitions to learn from, and where a learnt model is kept. */
  store: IndexStore;
  /** The model that made the index's current vectors ('' for none). */
  storedId: string;
  /** Learn again even when the stored model is still fresh. */
  retrain: boolean;
  /** Share of files added, changed or removed since the stored model was learnt. */
  drift: number;
  onProgress?: (phase: string, done: number, total: number) => void;
  /** Told of what the run does otherwise than asked (the CPU in place of an unusable GPU). */
  onWarning?: (message: string) => void;
}

export interface EmbedderFactory {
  readonly name: string;
  /**
   * Learns its model from the index's own chunks (the static model), so it can only start once
   * they are all written; the others embed each batch of chunks as soon as it is written, while
   * the parser goes on.
   */
  readonly learnsFromCorpus?: boolean;
  /** A stored model this version would not make (an older recipe): learnt again on the next run, changes or not. */
  outdated?(storedId: string): boolean;
  /**
   * For indexing; the static model trains here. Undefined when there is nothing to learn from
   * yet (definitions without a single word): the index then has no vectors.
   */
  forIndexing(spec: EmbedderSpec, context: EmbedderContext): Promise<Embedder | undefined>;
  /** For queries: the embedder that made the index's vectors, or an error saying why not. */
  forQuerying(spec: EmbedderSpec, store: IndexStore, storedId: string): Promise<Embedder>;
}

const factories = new Map<string, EmbedderFactory>();

export function registerEmbedder(factory: EmbedderFactory): void {
  factories.set(factory.name, factory);
}

export function embedderFactory(name: string): EmbedderFactory {
  const f = factories.get(name);
  if (!f) throw new EmbedderError(`unknown embedder '${name}' (known: ${[...factories.keys()].join(', ')}, none)`);
  return f;
}

export function embedderNames(): string[] {
  return [...factories.keys()];
}

/** A problem with the embedder a user configured: shown as one line, never a stack trace. */
export class EmbedderError extends Error {}

/**
 * The embedder cannot be reached now (its server is down, timing out or overloaded): worth
 * trying again later, and a hybrid search answers from the lexical retrievers meanwhile.
 */
export class EmbedderUnavailableError extends EmbedderError {}

/**
 * The model a version of the index was embedded with is gone from the store: a newer run
 * replaced it (a reader still on the older version asks again on the newest), or the index is
 * damaged.
 */
export class ModelMissingError extends EmbedderError {}

/** Text a neural model embeds for a definition: its name, kind, doc and code, in that order. */
export function embeddingText(input: EmbedInput, maxChars = 2000): string {
  const head = `${input.kind} ${input.symbol}`;
  const doc = input.doc ? `\n${input.doc}` : '';
  return `${head}${doc}\n${input.text}`.slice(0, maxChars);
}
