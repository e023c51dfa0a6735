// A context window as the text a prompt embeds: one fenced OCaml block per item, headed by its
// place and why it is there.
import type { ContextItem } from './item.js';

export function renderItem(item: ContextItem): string {
  const why = [item.reason, ...(item.alsoReasons ?? [])].join(', ');
  const cut = item.truncated ? ', signature only' : '';
  const doc = item.doc ? `(** ${item.doc} *)\n` : '';
  return `### ${item.path}:${item.startLine}-${item.endLine} \`${item.symbol}\` (${why}${cut})\n\`\`\`ocaml\n${doc}${item.text}\n\`\`\`\n`;
}

export function renderWindow(items: readonly ContextItem[]): string {
  return items.map(renderItem).join('\n');
}
