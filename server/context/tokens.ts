// Exact token counts for budgets, with a real BPE tokenizer (gpt-tokenizer). Encodings by name,
// loaded on first use: o200k_base (GPT-4o and later, the default) or cl100k_base (GPT-4).
export const ENCODINGS = ['o200k_base', 'cl100k_base'] as const;
export type EncodingName = (typeof ENCODINGS)[number];
export const DEFAULT_ENCODING: EncodingName = 'o200k_base';

export type CountTokens = (text: string) => number;

const loaded = new Map<EncodingName, CountTokens>();

/**
 * Characters of counted texts kept with their counts, per encoding. Counting is most of a
 * window's time (the BPE was 41% of building 648 windows in the resident reader), and a block's
 * text is the same whenever the same definition is shown for the same reason: the windows of an
 * editor session or an agent's task keep showing the same code.
 */
const MEMO_CHARS = 8_000_000;
/** Longer texts are counted each time: one must not push out thousands of blocks. */
const MEMO_TEXT_CHARS = 100_000;

export async function tokenCounter(name: EncodingName = DEFAULT_ENCODING): Promise<CountTokens> {
  let count = loaded.get(name);
  if (!count) {
    const module = name === 'cl100k_base' ? await import('gpt-tokenizer/encoding/cl100k_base') : await import('gpt-tokenizer/encoding/o200k_base');
    count = memoized((text: string) => module.countTokens(text));
    loaded.set(name, count);
  }
  return count;
}

/** `count` with the counts of recent texts kept, least recently used out first. */
export function memoized(count: CountTokens, maxChars = MEMO_CHARS, maxTextChars = MEMO_TEXT_CHARS): CountTokens {
  const memo = new Map<string, number>();
  let chars = 0;
  return (text) => {
    const known = memo.get(text);
    if (known !== undefined) {
      memo.delete(text);
      memo.set(text, known);
      return known;
    }
    const n = count(text);
    if (text.length <= maxTextChars) {
      memo.set(text, n);
      chars += text.length;
      for (const [oldest] of memo) {
        if (chars <= maxChars) break;
        memo.delete(oldest);
        chars -= oldest.length;
      }
    }
    return n;
  };
}
