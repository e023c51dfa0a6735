// The Model Context Protocol face of codesearch, for agents: tools `search`, `context` and
// `symbol` over one open index, with JSON-schema inputs (zod) and tool errors — never a crash —
// for anything an agent sends wrong.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { MAX_K, PAIRINGS, SEARCH_MODES, SearchModeError, warningCollector, type Searcher, type SearchResult } from './search.js';
import { ContextRequestError, MAX_BUDGET, MIN_BUDGET, type ContextBuilder } from './context/build.js';
import { EmbedderError } from '../indexer/embed/embedder.js';
import { BadRequest, insideRoot } from './http/app.js';

export interface McpOptions {
  searcher: Searcher;
  builder: ContextBuilder;
  /** The indexed root: `file` arguments must resolve inside it. */
  root: string;
  version: string;
}

type ToolResult = { content: { type: 'text'; text: string }[]; isError?: boolean; structuredContent?: Record<string, unknown> };

/**
 * Runs a tool; what the request got wrong comes back as a tool error the agent can read, and
 * what the answer lacks (no vectors while the embedder is out of reach) as warnings beside it.
 */
async function tool(work: (onWarning: (message: string) => void) => Promise<{ text: string; data: Record<string, unknown> }>): Promise<ToolResult> {
  const { warnings, onWarning } = warningCollector();
  try {
    const { text, data } = await work(onWarning);
    if (warnings.length === 0) return { content: [{ type: 'text', text }], structuredContent: data };
    return { content: [{ type: 'text', text: `${text}\n${warnings.map((w) => `-- warning: ${w}`).join('\n')}` }], structuredContent: { ...data, warnings } };
  } catch (err) {
    const expected = err instanceof SearchModeError || err instanceof ContextRequestError || err instanceof EmbedderError || err instanceof BadRequest;
    const message = expected ? (err as Error).message : `internal error: ${(err as Error).message.split('\n')[0]}`;
    return { content: [{ type: 'text', text: message }], isError: true };
  }
}

function listing(results: SearchResult[]): string {
  if (results.length === 0) return 'no results';
  return results.map((r) => `${r.path}:${r.startLine}-${r.endLine}  ${r.symbol}  ${r.kind}${r.doc ? `\n    ${r.doc.split('\n')[0]}` : ''}\n    ${r.snippet.split('\n')[0]}`).join('\n');
}

export function createMcpServer(options: McpOptions): McpServer {
  const { searcher, builder, root } = options;
  const server = new McpServer({ name: 'codesearch', version: options.version });

  server.registerTool(
    'search',
    {
      title: 'Search OCaml code',
      description:
        'Ranked OCaml definitions for a query: an identifier or qualified name (Hashtbl.find_opt), a function type (string -> char -> string list), or a question in English. Returns path:start-end, symbol and kind for each hit.',
      inputSchema: { query: z.string().min(1).max(10_000), k: z.number().int().min(1).max(MAX_K).optional(), mode: z.enum(SEARCH_MODES).optional(), pairs: z.enum(PAIRINGS).optional().describe("'separate': a definition and its .mli declaration as two results instead of one") },
    },
    async ({ query, k, mode, pairs }) =>
      tool(async (onWarning) => {
        const results = await searcher.search(query, { k: k ?? 10, mode, pairs, onWarning });
        return { text: listing(results), data: { results } };
      }),
  );

  server.registerTool(
    'context',
    {
      title: 'Context window for a change',
      description:
        'The source an LLM needs to write a change or answer a question about this OCaml code base: matching definitions, their .mli declarations, the types they use, what they call, their callers and tests, within a token budget. Optionally anchored at file/line, and given raw compiler errors.',
      inputSchema: {
        prompt: z.string().max(10_000),
        file: z.string().min(1).max(1000).optional(),
        line: z.number().int().min(1).optional(),
        errors: z.string().max(200_000).optional(),
        budget: z.number().int().min(MIN_BUDGET).max(MAX_BUDGET).optional(),
      },
    },
    async ({ prompt, file, line, errors, budget }) =>
      tool(async (onWarning) => {
        const window = await builder.build({ prompt, budget, errors, line, file: file === undefined ? undefined : insideRoot(file, root) });
        window.warnings?.forEach(onWarning);
        return { text: `${window.text}\n-- ${window.items.length} items, ${window.tokens} of ${window.budget} tokens`, data: { ...window } };
      }),
  );

  server.registerTool(
    'symbol',
    {
      title: 'Definition and declaration of a name',
      description: 'Where an OCaml identifier or qualified name (List.concat_map, find_opt) is defined and declared, best match first.',
      inputSchema: { name: z.string().min(1).max(500), k: z.number().int().min(1).max(MAX_K).optional() },
    },
    async ({ name, k }) =>
      tool(async () => {
        const results = await searcher.lookupSymbol(name, k ?? 4);
        return { text: listing(results), data: { results } };
      }),
  );

  return server;
}
