// The embed stage: after the chunks are written, every chunk whose content hash has no vector
// under the current embedder is embedded, and vectors of chunks that are gone are deleted.
// Keyed by content hash, so unchanged chunks are never embedded twice, and resumable: a killed
// run leaves committed batches behind and the next run embeds only the rest.
import type { IndexStore, StoredChunk } from '../store.js';
import type { Embedder, EmbedInput } from './embedder.js';

const WRITE_BATCH = 20_000;
/** Inputs handed to the embedder at once: it batches and parallelises requests within. */
const EMBED_SLICE = 1024;

export interface EmbedSummary {
  embedded: number;
  deleted: number;
  seconds: number;
}

export interface EmbedStageOptions {
  onProgress?: (done: number, total: number) => void;
  /**
   * Only these files' chunks can lack a vector (every other chunk had one under this embedder
   * when the run began): a saved file is compared alone instead of the whole index.
   */
  paths?: readonly string[];
}

/**
 * Embeds chunks the moment they are written, while the parser goes on (an embedder that learns
 * nothing from the corpus: a GPU server's round trips then overlap the parsing). The embed stage
 * that follows finds them done by their content hash. `append`: no vector exists for these ids.
 */
export async function embedWrittenChunks(store: IndexStore, embedder: Embedder, chunks: readonly StoredChunk[], append: boolean): Promise<number> {
  const rows: { id: string; hash: string; vector: Float32Array }[] = [];
  for (let i = 0; i < chunks.length; i += EMBED_SLICE) {
    const slice = chunks.slice(i, i + EMBED_SLICE);
    const vectors = await embedder.embedDocuments(slice);
    slice.forEach((c, j) => rows.push({ id: c.id, hash: c.contentHash, vector: vectors[j]! }));
  }
  await store.writeVectors(rows, { append });
  return rows.length;
}

export async function embedChunks(store: IndexStore, embedder: Embedder, options: EmbedStageOptions = {}): Promise<EmbedSummary> {
  const started = performance.now();
  const wanted = await store.chunkContentHashes(options.paths);
  const have = await store.vectorHashes(options.paths);
  const gone = [...have.keys()].filter((id) => !wanted.has(id));
  await store.deleteVectors(gone);
  const todo = new Set([...wanted].filter(([id, hash]) => have.get(id) !== hash).map(([id]) => id));
  // Nothing embedded yet: plain appends instead of merges.
  const append = have.size === 0 && !options.paths;
  let done = 0;
  let pending: { id: string; hash: string; vector: Float32Array }[] = [];
  let writing = Promise.resolve();
  options.onProgress?.(0, todo.size);
  if (todo.size > 0) {
    for await (const inputs of store.embedInputs({ ids: todo.size === wanted.size && !options.paths ? undefined : todo, text: embedder.readsText })) {
      for (let i = 0; i < inputs.length; i += EMBED_SLICE) {
        const slice: EmbedInput[] = inputs.slice(i, i + EMBED_SLICE);
        const vectors = await embedder.embedDocuments(slice);
        slice.forEach((input, j) => pending.push({ id: input.id, hash: wanted.get(input.id)!, vector: vectors[j]! }));
        done += slice.length;
        options.onProgress?.(done, todo.size);
      }
      if (pending.length >= WRITE_BATCH) {
        // LanceDB writes on its own threads while the next batch is embedded here.
        await writing;
        writing = store.writeVectors(pending, { append });
        writing.catch(() => {}); // awaited below; this only keeps it from counting as unhandled meanwhile
        pending = [];
      }
    }
    await writing;
    await store.writeVectors(pending, { append });
  }
  return { embedded: done, deleted: gone.length, seconds: (performance.now() - started) / 1000 };
}
