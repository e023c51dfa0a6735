// The `transformers` embedder: any local ONNX feature-extraction model directory (a user's copy
// of a code embedding model, or the static model exported by onnx-export.ts) through
// transformers.js, strictly offline. Pooling follows the model's sentence-transformers config
// when it has one (mean otherwise): mean, CLS or last token; vectors are normalised.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { EmbedderError, embeddingText, registerEmbedder, type Embedder, type EmbedderSpec, type EmbedInput } from './embedder.js';

type Pooling = 'mean' | 'cls' | 'last_token';
/** `gpu` is `cuda`; `auto` is `cuda` when onnxruntime can use it, the CPU otherwise. */
const DEVICES = ['cpu', 'cuda', 'gpu', 'auto'];
const DTYPES = ['fp32', 'fp16', 'q8'];
const DEFAULT_BATCH = 32;

interface FeatureExtractor {
  (texts: string[], options: { pooling: Pooling; normalize: boolean }): Promise<{ data: Float32Array; dims: number[] }>;
  tokenizer: { padding_side: string };
  dispose(): Promise<void>;
}

export interface LoadOptions {
  /**
   * Embed on the CPU when the GPU cannot be used, as `--device auto` does. A query is one short
   * text, so a server without onnxruntime's CUDA provider embeds it on the CPU whatever device
   * the index was embedded on; an index run asked for `cuda` fails instead of crawling.
   */
  cpuFallback?: boolean;
  /** Told when the CPU is used in place of the GPU, and why. */
  onWarning?: (message: string) => void;
}

export class TransformersEmbedder implements Embedder {
  readonly readsText = true;

  private constructor(
    readonly id: string,
    readonly dims: number,
    /** Where it runs: `cuda` or `cpu`. */
    readonly device: 'cpu' | 'cuda',
    private readonly extract: FeatureExtractor,
    private readonly pooling: Pooling,
    private readonly spec: EmbedderSpec,
  ) {}

  static async load(spec: EmbedderSpec, options: LoadOptions = {}): Promise<TransformersEmbedder> {
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
    const open = (on: 'cpu' | 'cuda') =>
      transformers.pipeline('feature-extraction', basename(dir), { local_files_only: true, device: on, dtype: dtype as 'fp32' | 'fp16' | 'q8' }) as unknown as Promise<FeatureExtractor>;
    const pooling = poolingOf(dir);
    const { extract, on } = await openOnDevice(open, device, options, dir);
    // transformers.js takes the batch's last position: a shorter text padded on the right would
    // pool a padding token. Decoder models (Qwen3-Embedding) pad on the left; make sure of it.
    if (pooling === 'last_token') extract.tokenizer.padding_side = 'left';
    const probe = await extract(['codesearch'], { pooling, normalize: true });
    const dims = probe.dims[probe.dims.length - 1]!;
    return new TransformersEmbedder(modelId(dir, dtype, dims, pooling, spec.documentPrefix), dims, on, extract, pooling, spec);
  }

  async embedDocuments(inputs: readonly EmbedInput[]): Promise<Float32Array[]> {
    return this.embed(inputs.map((i) => (this.spec.documentPrefix ?? '') + embeddingText(i)));
  }

  async embedQuery(query: string): Promise<Float32Array> {
    const [vector] = await this.embed([(this.spec.queryPrefix ?? '') + query]);
    return vector!;
  }

  /** The model does not read the index: a newer version keeps this loaded one. */
  forNewerVersion(): this {
    return this;
  }

  async close(): Promise<void> {
    await this.extract.dispose();
  }

  /**
   * Batches of texts of about the same length: a batch is padded to its longest text, so a
   * definition of 2,000 characters beside 31 one-liners costs 32 long rows. Vectors come back in
   * the order of `texts`.
   */
  private async embed(texts: string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = new Array(texts.length);
    const order = texts.map((_, i) => i).sort((a, b) => texts[a]!.length - texts[b]!.length);
    const batch = this.spec.batchSize ?? DEFAULT_BATCH;
    const d = this.dims;
    for (let i = 0; i < order.length; i += batch) {
      const rows = order.slice(i, i + batch);
      const tensor = await this.extract(rows.map((r) => texts[r]!), { pooling: this.pooling, normalize: true });
      rows.forEach((row, r) => {
        // A text of unknown tokens only pools to zero, and normalising that gives NaN.
        out[row] = Float32Array.from(tensor.data.subarray(r * d, (r + 1) * d), (x) => (Number.isFinite(x) ? x : 0));
      });
    }
    return out;
  }
}

/**
 * Opens the model on the device asked for. `cuda` (or `gpu`) fails with what to do when
 * onnxruntime cannot use CUDA; `auto`, or a caller allowing it, falls back to the CPU and says so.
 */
async function openOnDevice(
  open: (on: 'cpu' | 'cuda') => Promise<FeatureExtractor>,
  device: string,
  options: LoadOptions,
  dir: string,
): Promise<{ extract: FeatureExtractor; on: 'cpu' | 'cuda' }> {
  const mayFallBack = device === 'auto' || (options.cpuFallback ?? false);
  const fallBack = (why: string) => {
    if (!mayFallBack) {
      throw new EmbedderError(`cannot use --device ${device}: ${why}; reinstall with ONNXRUNTIME_NODE_INSTALL_CUDA=v12 npm install (CUDA 12 and cuDNN needed), or use --device auto to fall back to the CPU, or --device cpu`);
    }
    options.onWarning?.(`embedding on the CPU: ${why}`);
    return 'cpu' as const;
  };
  const cannotLoad = (err: unknown) => new EmbedderError(`cannot load the model in ${dir}: ${(err as Error).message.split('\n')[0]}`);
  let on: 'cpu' | 'cuda' = device === 'cpu' ? 'cpu' : 'cuda';
  // Without the provider's library, trying CUDA only adds onnxruntime's own error lines.
  if (on === 'cuda' && cudaProviderInstalled() === false) on = fallBack(NO_PROVIDER);
  try {
    return { extract: await open(on), on };
  } catch (err) {
    const message = (err as Error).message.split('\n')[0]!;
    if (on === 'cpu' || !/shared library|cuda|provider/i.test(message)) throw cannotLoad(err);
    on = fallBack(`onnxruntime cannot use CUDA (${message})`);
    return { extract: await open(on).catch((e: unknown) => Promise.reject(cannotLoad(e))), on };
  }
}

const NO_PROVIDER = "onnxruntime's CUDA provider is not installed";

/**
 * Whether onnxruntime-node's CUDA provider library is installed (its install script fetches it
 * only when asked to); undefined where that cannot be told (another layout: just try).
 */
function cudaProviderInstalled(): boolean | undefined {
  try {
    const fromTransformers = createRequire(createRequire(import.meta.url).resolve('@huggingface/transformers'));
    const bin = join(dirname(fromTransformers.resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
    if (!existsSync(bin)) return undefined;
    return readdirSync(bin).some((f) => /providers_cuda\.(so|dll)$/.test(f));
  } catch {
    return undefined;
  }
}

/** sentence-transformers' pooling modes (`1_Pooling/config.json`) and what transformers.js calls them. */
const POOLING_MODES: Record<string, Pooling | undefined> = {
  pooling_mode_mean_tokens: 'mean',
  pooling_mode_cls_token: 'cls',
  pooling_mode_lasttoken: 'last_token',
  pooling_mode_max_tokens: undefined,
  pooling_mode_mean_sqrt_len_tokens: undefined,
  pooling_mode_weightedmean_tokens: undefined,
};

/**
 * How a sentence-transformers model pools, from `1_Pooling/config.json` (mean without one). A
 * mode transformers.js cannot pool with is an error: pooling another way would give vectors
 * that look right and rank wrong.
 */
function poolingOf(dir: string): Pooling {
  const file = join(dir, '1_Pooling', 'config.json');
  if (!existsSync(file)) return 'mean';
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new EmbedderError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const modes = Object.keys(POOLING_MODES).filter((mode) => config[mode] === true);
  if (modes.length === 0) return 'mean';
  const pooling = modes.length === 1 ? POOLING_MODES[modes[0]!] : undefined;
  if (!pooling) {
    throw new EmbedderError(`the model in ${dir} pools with ${modes.join(' + ')} (1_Pooling/config.json), which transformers.js cannot do; codesearch embeds with mean, CLS or last-token pooling`);
  }
  return pooling;
}

/**
 * The model's identity: its name, dtype and a hash of its config, its weights' sizes, its pooling
 * and the document prefix (another prefix makes other vectors: every definition is embedded again).
 */
function modelId(dir: string, dtype: string, dims: number, pooling: Pooling, documentPrefix = ''): string {
  const hash = createHash('sha256').update(readFileSync(join(dir, 'config.json')));
  if (documentPrefix) hash.update(`documentPrefix:${documentPrefix}`);
  // Mean, the default, adds nothing: the ids of indexes made before pooling was hashed stay.
  if (pooling !== 'mean') hash.update(`pooling:${pooling}`);
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
  forIndexing: (spec, { onWarning }) => TransformersEmbedder.load(spec, { onWarning }),
  async forQuerying(spec, _store, storedId) {
    if (!existsSync(join(resolve(spec.model ?? ''), 'config.json'))) {
      throw new EmbedderError(
        `the index's vectors were made by the model in ${spec.model}, which is no longer there; put it back, or re-index with --embedder-model DIR (or --embedder static); --mode lexical searches without it`,
      );
    }
    const embedder = await TransformersEmbedder.load(spec, { cpuFallback: true });
    if (embedder.id !== storedId) {
      await embedder.close();
      throw new EmbedderError(`the model in ${spec.model} is now '${embedder.id}', but the index was embedded with '${storedId}'; re-index to use it`);
    }
    return embedder;
  },
});
