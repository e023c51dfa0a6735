// The only module that loads tree-sitter. One parser per language, reused across files.
import Parser from 'tree-sitter';
import OCaml from 'tree-sitter-ocaml';
import { grammarSpec } from './grammar.js';
import type { SourceLang } from './types.js';

export type Tree = Parser.Tree;
export type SyntaxNode = Parser.SyntaxNode;

export interface OcamlParser {
  parse(source: string, lang: SourceLang): Tree;
}

export function createOcamlParser(): OcamlParser {
  const languages = OCaml as unknown as Record<string, unknown>;
  const parsers = new Map<SourceLang, Parser>();
  for (const [lang, languageName] of Object.entries(grammarSpec().languages) as [SourceLang, string][]) {
    const parser = new Parser();
    parser.setLanguage(languages[languageName] as Parser.Language);
    parsers.set(lang, parser);
  }
  return {
    parse(source, lang) {
      const parser = parsers.get(lang);
      if (!parser) throw new Error(`no parser for .${lang}`);
      // An explicit buffer size keeps large files (MBs) parsing on every binding version.
      return parser.parse(source, undefined, { bufferSize: Math.max(32 * 1024, source.length * 2 + 1) });
    },
  };
}

export function langOf(path: string): SourceLang | undefined {
  if (path.endsWith('.mli')) return 'mli';
  if (path.endsWith('.ml')) return 'ml';
  return undefined;
}
