// `codesearch mcp [--db DIR]`: the Model Context Protocol over stdio (tools search, context,
// symbol). Standard output belongs to the protocol; nothing else is written there.
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { ContextBuilder } from '../../server/context/build.js';
import { createMcpServer } from '../../server/mcp.js';
import { dbForQuerying } from '../config.js';
import { openSearcher } from './search.js';
import { keepHeapTight } from '../heap.js';

export async function runMcp(opts: { db?: string }): Promise<void> {
  keepHeapTight();
  const searcher = await openSearcher(dbForQuerying(opts.db, process.env, process.cwd()), { resident: true });
  const root = (await searcher.store.getMeta('root')) ?? process.cwd();
  const server = createMcpServer({ searcher, builder: await ContextBuilder.create(searcher), root, version: '0.1.0' });
  const transport = new StdioServerTransport();
  transport.onclose = () => searcher.close();
  await server.connect(transport);
}
