// Exports a static model as a transformers.js model directory — `config.json`,
// `tokenizer.json` (WordPiece over the model's vocabulary), `tokenizer_config.json` and
// `onnx/model.onnx` (one Gather: token id → idf-weighted vector; the pipeline's mean pooling
// and normalisation then give the same direction as the static embedder's query vectors) — so
// the corpus-trained model loads like any other local model.
//
// WordPiece cannot stem, so a word is split greedily into vocabulary pieces: `splitting` →
// `split` + `##t`… Every letter and digit is a zero-weight continuation piece, so no word ever
// becomes a whole-word [UNK].
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import type { StaticModel } from './static-model.js';

const { onnx } = onnxProto;
const SPECIALS = ['[PAD]', '[UNK]'];
const CONTINUATION_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';

export function exportStaticModel(model: StaticModel, dir: string): void {
  const d = model.dims;
  // Rows: specials (zero), the vocabulary (vector × idf), then `##c` pieces (zero). `##token`
  // is the same row as `token`: the tokenizer maps both spellings to one id.
  const rows = SPECIALS.length + model.vocabulary.length;
  const vocab = new Map<string, number>(SPECIALS.map((t, i) => [t, i]));
  model.vocabulary.forEach((t, i) => vocab.set(t, SPECIALS.length + i));
  model.vocabulary.forEach((t, i) => vocab.set(`##${t}`, SPECIALS.length + i));
  const continuation = [...CONTINUATION_CHARS].filter((c) => !vocab.has(`##${c}`));
  continuation.forEach((c, i) => vocab.set(`##${c}`, rows + i));

  const weights = new Float32Array((rows + continuation.length) * d);
  model.vocabulary.forEach((_, i) => {
    const idf = model.idf[i]!;
    const row = SPECIALS.length + i;
    for (let j = 0; j < d; j++) weights[row * d + j] = model.vectors[i * d + j]! * idf;
  });

  mkdirSync(join(dir, 'onnx'), { recursive: true });
  writeFileSync(join(dir, 'onnx', 'model.onnx'), gatherModel(weights, rows + continuation.length, d));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'bert', hidden_size: d, vocab_size: rows + continuation.length, codesearch: { static: true } }, null, 2));
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({ tokenizer_class: 'BertTokenizer', do_lower_case: true, model_max_length: 512, unk_token: '[UNK]', pad_token: '[PAD]' }, null, 2),
  );
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson(vocab)));
}

function tokenizerJson(vocab: Map<string, number>) {
  return {
    version: '1.0',
    truncation: { direction: 'Right', max_length: 512, strategy: 'LongestFirst', stride: 0 },
    padding: null,
    added_tokens: SPECIALS.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: null,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(vocab) },
  };
}

/** `last_hidden_state[b, s, :] = weights[input_ids[b, s], :]`; attention_mask is declared for the pipeline. */
function gatherModel(weights: Float32Array, rows: number, dims: number): Uint8Array {
  const tensorType = (elemType: number, shape: (string | number)[]) => ({
    tensorType: { elemType, shape: { dim: shape.map((s) => (typeof s === 'string' ? { dimParam: s } : { dimValue: s })) } },
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'codesearch',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'codesearch-static',
      initializer: [{ name: 'embeddings', dims: [rows, dims], dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength) }],
      node: [{ opType: 'Gather', input: ['embeddings', 'input_ids'], output: ['last_hidden_state'], attribute: [{ name: 'axis', i: 0, type: onnx.AttributeProto.AttributeType.INT }] }],
      input: [
        { name: 'input_ids', type: tensorType(onnx.TensorProto.DataType.INT64, ['batch', 'sequence']) },
        { name: 'attention_mask', type: tensorType(onnx.TensorProto.DataType.INT64, ['batch', 'sequence']) },
      ],
      output: [{ name: 'last_hidden_state', type: tensorType(onnx.TensorProto.DataType.FLOAT, ['batch', 'sequence', dims]) }],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
