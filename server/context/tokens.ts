// Exact token counts for budgets, with a real BPE tokenizer (gpt-tokenizer). Encodings by name,
// loaded on first use: o200k_base (GPT-4o and later, the default) or cl100k_base (GPT-4).
export const ENCODINGS = ['o200k_base', 'cl100k_base'] as const;
export type EncodingName = (typeof ENCODINGS)[number];
export const DEFAULT_ENCODING: EncodingName = 'o200k_base';

export type CountTokens = (text: string) => number;

const loaded = new Map<EncodingName, CountTokens>();

export async function tokenCounter(name: EncodingName = DEFAULT_ENCODING): Promise<CountTokens> {
  let count = loaded.get(name);
  if (!count) {
    const module = name === 'cl100k_base' ? await import('gpt-tokenizer/encoding/cl100k_base') : await import('gpt-tokenizer/encoding/o200k_base');
    count = (text: string) => module.countTokens(text);
    loaded.set(name, count);
  }
  return count;
}
