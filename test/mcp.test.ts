// `codesearch mcp` as agents use it: the MCP SDK's own client spawns the real process over stdio.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { childEnv, cleanupTempDirs, CLI_MAIN, indexedFixture } from './helpers.js';

let client: Client;

beforeAll(async () => {
  const { root, db } = await indexedFixture('shop');
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI_MAIN, 'mcp', '--db', db], cwd: root, env: childEnv({}) as Record<string, string>, stderr: 'pipe' });
  client = new Client({ name: 'codesearch-test', version: '1.0.0' });
  await client.connect(transport);
});

afterAll(async () => {
  await client?.close();
  cleanupTempDirs();
});

type Text = { type: string; text: string }[];

describe('codesearch mcp', () => {
  it('lists the search, context and symbol tools with JSON-schema inputs', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['context', 'search', 'symbol']);
    const search = tools.find((t) => t.name === 'search')!;
    expect(search.inputSchema).toMatchObject({ type: 'object', required: ['query'] });
    expect(Object.keys(search.inputSchema.properties ?? {})).toEqual(expect.arrayContaining(['query', 'k', 'mode', 'pairs']));
  });

  it('search answers text for the agent and structured results', async () => {
    const r = await client.callTool({ name: 'search', arguments: { query: 'total price of a cart', k: 3 } });
    expect(r.isError).toBeFalsy();
    expect((r.content as Text)[0]!.text).toMatch(/^src\/cart\.mli?:\d+-\d+ {2}Shop\.Cart\.total {2}value/);
    expect((r.structuredContent as { results: { symbol: string }[] }).results[0]!.symbol).toBe('Shop.Cart.total');
  });

  it('context returns a window within budget; symbol finds definition and declaration', async () => {
    const r = await client.callTool({ name: 'context', arguments: { prompt: 'add a discount to the total', file: 'src/checkout.ml', line: 3, budget: 500 } });
    expect(r.isError).toBeFalsy();
    const window = r.structuredContent as { items: { reason: string; symbol: string }[]; tokens: number };
    expect(window.tokens).toBeLessThanOrEqual(500);
    expect(window.items[0]).toMatchObject({ reason: 'cursor', symbol: 'Shop.Checkout.charge' });
    const s = await client.callTool({ name: 'symbol', arguments: { name: 'Cart.add' } });
    expect((s.structuredContent as { results: { path: string }[] }).results.slice(0, 2).map((x) => x.path).sort()).toEqual(['src/cart.ml', 'src/cart.mli']);
  });

  it('answers bad arguments with tool errors, and keeps serving', async () => {
    const outside = await client.callTool({ name: 'context', arguments: { prompt: 'x', file: '../../etc/passwd' } });
    expect(outside.isError).toBe(true);
    expect((outside.content as Text)[0]!.text).toMatch(/outside the indexed root/);
    const notAName = await client.callTool({ name: 'symbol', arguments: { name: 'two words' } });
    expect(notAName.isError).toBe(true);
    const badK = await client.callTool({ name: 'search', arguments: { query: 'x', k: 0 } }).catch((err: Error) => ({ isError: true, content: [{ type: 'text', text: err.message }] }));
    expect(badK.isError).toBe(true);
    const again = await client.callTool({ name: 'search', arguments: { query: 'Cart.add' } });
    expect(again.isError).toBeFalsy();
  });
});
