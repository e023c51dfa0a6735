// Retrievers by name, so strategies and configuration pick them without `if` chains.
import { fullTextRetriever } from './fulltext.js';
import { symbolRetriever } from './symbol.js';
import { vectorRetriever } from './vector.js';
import { typeRetriever } from './type.js';
import { literalRetriever } from './literal.js';
import { everyWordRetriever } from './every-word.js';
import type { Retriever } from './types.js';

const retrievers = new Map<string, Retriever>();

export function registerRetriever(retriever: Retriever): void {
  retrievers.set(retriever.name, retriever);
}

export function getRetriever(name: string): Retriever {
  const r = retrievers.get(name);
  if (!r) throw new Error(`unknown retriever '${name}' (known: ${[...retrievers.keys()].join(', ')})`);
  return r;
}

registerRetriever(fullTextRetriever);
registerRetriever(symbolRetriever);
registerRetriever(vectorRetriever);
registerRetriever(typeRetriever);
registerRetriever(literalRetriever);
registerRetriever(everyWordRetriever);
