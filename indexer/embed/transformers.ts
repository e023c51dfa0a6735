// The `transformers` embedder: any local ONNX feature-extraction model directory (a user's copy
// of a code embedding model, or the static model exported by onnx-export.ts) through
// transformers.js, strictly offline. Pooling follows the model's sentence-transformers config
// when it has one (mean otherwise); vectors are normalised.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { EmbedderError, embeddingText, registerEmbedder, type Embedder, type EmbedderSpec, type EmbedInput } from './embedder.js';

type Pooling = 'mean' | 'cls';
const DEVICES = ['cpu', 'cuda', 'gpu'];
const DTYPES = ['fp32', 'fp16', 'q8'];
const DEFAULT_BATCH = 32;

interface FeatureExtractor {
  (texts: string[], options: { pooling: Pooling; normalize: boolean }): Promise<{ data: Float32Array; dims: number[] }>;
  dispose(): Promise<void>;
}

export class TransformersEmbedder implements Embedder {
  readonly readsText = true;

  private constructor(
    readonly id: string,
    readonly dims: number,
    private readonly extract: FeatureExtractor,
    private readonly pooling: Pooling,
    private readonly spec: EmbedderSpec,
  ) {}

  static async load(spec: EmbedderSpec): Promise<TransformersEmbedder> {
    const dir = resolve(spec.model ?? '');
    if (!spec.model || !existsSync(join(dir, 'config.json'))) {
      throw new EmbedderError(`--embedder-model must be a local model directory with config.json, tokenizer.json and onnx/model.onnx; got '${spec.model ?? ''}'`);
    }
    const device = spec.device ?? 'cpu';
    const dtype = spec.dtype ?? 'fp32';
    if (!DEVICES.includes(device)) throw new EmbedderError(`--device must be one of ${DEVICES.join(', ')}, got '${device}'`);
    if (!DTYPES.includes(dtype)) throw new EmbedderError(`--dtype must be one of ${DTYPES.join(', ')}, got '${dtype}'`);
    const transformers = await import('@huggingface/transformers');
    // Never reach for the network: the model is the directory the user named.
    transformers.env.allowRemoteModels = false;
    transformers.env.allowLocalModels = true;
    transformers.env.localModelPath = dirname(dir);
    let extract: FeatureExtractor;
    try {
      extract = (await transformers.pipeline('feature-extraction', basename(dir), {
        local_files_only: true,
        device: device === 'gpu' ? 'cuda' : (device as 'cpu' | 'cuda'),
        dtype: dtype as 'fp32' | 'fp16' | 'q8',
      })) as unknown as FeatureExtractor;
    } catch (err) {
      const message = (err as Error).message.split('\n')[0]!;
      if (device !== 'cpu' && /shared library|cuda|provider/i.test(message)) {
        throw new EmbedderError(
          `cannot use --device ${device}: onnxruntime's CUDA provider is not installed (${message}); reinstall with ONNXRUNTIME_NODE_INSTALL_CUDA=v12 npm install, or use --device cpu`,
        );
      }
      throw new EmbedderError(`cannot load the model in ${dir}: ${message}`);
    }
    const pooling = poolingOf(dir);
    const probe = await extract(['codesearch'], { pooling, normalize: true });
    const dims = probe.dims[probe.dims.length - 1]!;
    return new TransformersEmbedder(modelId(dir, dtype, dims), dims, extract, pooling, spec);
  }

  async embedDocuments(inputs: readonly EmbedInput[]): Promise<Float32Array[]> {
    return this.embed(inputs.map((i) => (this.spec.documentPrefix ?? '') + embeddingText(i)));
  }

  async embedQuery(query: string): Promise<Float32Array> {
    const [vector] = await this.embed([(this.spec.queryPrefix ?? '') + query]);
    return vector!;
  }

  async close(): Promise<void> {
    await this.extract.dispose();
  }

  private async embed(texts: string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    const batch = this.spec.batchSize ?? DEFAULT_BATCH;
    for (let i = 0; i < texts.length; i += batch) {
      const tensor = await this.extract(texts.slice(i, i + batch), { pooling: this.pooling, normalize: true });
      const d = this.dims;
      for (let r = 0; r < tensor.data.length / d; r++) {
        // A text of unknown tokens only pools to zero, and normalising that gives NaN.
        const v = Float32Array.from(tensor.data.subarray(r * d, (r + 1) * d), (x) => (Number.isFinite(x) ? x : 0));
        out.push(v);
      }
    }
    return out;
  }
}

/** sentence-transformers models say how they pool in `1_Pooling/config.json`. */
function poolingOf(dir: string): Pooling {
  const file = join(dir, '1_Pooling', 'config.json');
  if (!existsSync(file)) return 'mean';
  const config = JSON.parse(readFileSync(file, 'utf8')) as { pooling_mode_cls_token?: boolean };
  return config.pooling_mode_cls_token ? 'cls' : 'mean';
}

/** The model's identity: its name, dtype and a hash of its config and weights' size and mtime. */
function modelId(dir: string, dtype: string, dims: number): string {
  const hash = createHash('sha256').update(readFileSync(join(dir, 'config.json')));
  const onnxDir = join(dir, 'onnx');
  if (existsSync(onnxDir)) {
    for (const name of ['model.onnx', 'model_fp16.onnx', 'model_quantized.onnx']) {
      const file = join(onnxDir, name);
      if (existsSync(file)) hash.update(`${name}:${statSync(file).size}`);
    }
  }
  return `transformers-${basename(dir)}-${dtype}-${dims}d-${hash.digest('hex').slice(0, 10)}`;
}

registerEmbedder({
  name: 'transformers',
  forIndexing: (spec) => TransformersEmbedder.load(spec),
  async forQuerying(spec, _store, storedId) {
    const embedder = await TransformersEmbedder.load(spec);
    if (embedder.id !== storedId) {
      await embedder.close();
      throw new EmbedderError(`the model in ${spec.model} is now '${embedder.id}', but the index was embedded with '${storedId}'; re-index to use it`);
    }
    return embedder;
  },
});
