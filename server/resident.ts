// A long-lived reader's chunks, held in memory. LanceDB still ranks (BM25, nearest vectors) but
// returns only ids and scores; rows, names, files and references come from here. Reading rows
// is what a query paid for: 200 full-text hits cost 12 ms of LanceDB time as rows and 3 ms as ids
// (full corpus, 2 cores), and under 8 concurrent clients LanceDB's threads were the bottleneck.
// Every method answers as IndexStore's would, so one-shot and resident searches rank alike.
import type { ChunkHit, ChunkReader, ChunkRecord, IndexStore, TextMatch, VectorHit } from '../indexer/store.js';

export class ResidentChunks implements ChunkReader {
  private readonly byId = new Map<string, ChunkRecord>();
  private readonly named = new Map<string, ChunkRecord[]>();
  private readonly byPath = new Map<string, ChunkRecord[]>();
  private readonly position = new Map<ChunkRecord, number>();
  /** Reference compound → the chunks whose code uses it: callers without a full-text query. */
  private readonly users = new Map<string, ChunkRecord[]>();
  private readonly refCount = new Map<ChunkRecord, number>();

  private constructor(
    private readonly store: IndexStore,
    /** In table order, as LanceDB's scans return them. */
    private readonly records: readonly ChunkRecord[],
  ) {
    for (const [i, r] of records.entries()) {
      this.position.set(r, i);
      this.byId.set(r.chunk.id, r);
      push(this.named, r.chunk.name.toLowerCase(), r);
      push(this.byPath, r.chunk.path, r);
      const refs = r.refs.split(' ').filter(Boolean);
      this.refCount.set(r, refs.length);
      for (const ref of refs) push(this.users, ref, r);
    }
  }

  static async load(store: IndexStore): Promise<ResidentChunks> {
    const records: ChunkRecord[] = [];
    for await (const batch of store.chunkRecords()) for (const r of batch) records.push(r);
    return new ResidentChunks(store, records);
  }

  get size(): number {
    return this.records.length;
  }

  fullText(tokens: readonly string[], limit: number, boosts: { name: number; body: number }): Promise<ChunkHit[]> {
    return this.matched({ column: 'fulltext', tokens, boosts }, limit, true);
  }

  typeCandidates(tokens: readonly string[], limit: number): Promise<ChunkHit[]> {
    return this.matched({ column: 'type', tokens }, limit, true);
  }

  async usersOf(nameCompound: string, limit: number, options: { pathContains?: string } = {}): Promise<ChunkHit[]> {
    const inPath = options.pathContains?.replace(/[%_]/g, '');
    const found = (this.users.get(nameCompound) ?? []).filter((r) => !inPath || r.chunk.path.includes(inPath));
    // BM25's order for one term that each document holds once: the shortest documents first.
    found.sort((a, b) => this.refCount.get(a)! - this.refCount.get(b)! || this.position.get(a)! - this.position.get(b)!);
    return found.slice(0, limit).map((r) => hit(r, 0, false));
  }

  fuzzyName(token: string, limit: number, fuzziness: number): Promise<ChunkHit[]> {
    return this.matched({ column: 'name', token, fuzziness }, limit, false);
  }

  nearest(vector: Float32Array, limit: number): Promise<VectorHit[]> {
    return this.store.nearest(vector, limit);
  }

  async chunksByIds(ids: readonly string[]): Promise<ChunkHit[]> {
    return ids.flatMap((id) => {
      const r = this.byId.get(id);
      return r ? [hit(r, 0, true)] : [];
    });
  }

  async chunksOfFile(path: string): Promise<ChunkHit[]> {
    return (this.byPath.get(path) ?? []).map((r) => hit(r, 0, false)).sort((a, b) => a.startLine - b.startLine || b.endLine - a.endLine);
  }

  async referencesOf(ids: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const id of ids) {
      const r = this.byId.get(id);
      if (r) out.set(id, r.refs.split(' ').filter(Boolean));
    }
    return out;
  }

  async typesNamed(name: string, limit: number, options: { symbolSuffix?: string; paths?: readonly string[] } = {}): Promise<ChunkHit[]> {
    const { symbolSuffix, paths } = options;
    const inPaths = paths ? new Set(paths) : undefined;
    return (this.named.get(name.toLowerCase()) ?? [])
      .filter(({ chunk: c }) => c.kind === 'type' && (!inPaths || inPaths.has(c.path)) && (!symbolSuffix || c.symbol.endsWith(symbolSuffix)))
      .slice(0, limit)
      .map((r) => hit(r, 0, false));
  }

  async chunksContaining(fragments: readonly string[], limit: number): Promise<ChunkHit[]> {
    if (fragments.length === 0) return [];
    const wanted = fragments.map((f) => f.replace(/%/g, ''));
    const out: ChunkHit[] = [];
    for (const r of this.records) {
      if (wanted.every((f) => r.chunk.text.includes(f))) out.push(hit(r, 0, true));
      if (out.length >= limit) break;
    }
    return out;
  }

  async siblings(module: string, namePrefix: string, limit: number): Promise<ChunkHit[]> {
    if (!namePrefix) return [];
    const clean = (x: string) => x.replace(/[%']/g, '');
    const prefix = clean(namePrefix);
    const inModule = `${clean(module)}.`;
    const out: ChunkHit[] = [];
    for (const [name, records] of this.named) {
      if (!name.startsWith(prefix.toLowerCase())) continue;
      for (const r of records) {
        const { kind, symbol } = r.chunk;
        const at = symbol.indexOf(inModule);
        if ((kind === 'value' || kind === 'external') && at >= 0 && symbol.includes(prefix, at + inModule.length)) out.push(hit(r, 0, false));
        if (out.length >= limit) return out;
      }
    }
    return out;
  }

  async byName(names: readonly string[], limit: number, options: { withText?: boolean; pathPrefix?: string } = {}): Promise<ChunkHit[]> {
    const withText = options.withText ?? true;
    const prefix = options.pathPrefix?.replace(/[%_]/g, '');
    const found = [...new Set(names.map((n) => n.toLowerCase()))].flatMap((name) => this.named.get(name) ?? []).filter((r) => !prefix || r.chunk.path.startsWith(prefix));
    // In table order, as a scan returns them: the same `limit` keeps the same definitions.
    if (names.length > 1) found.sort((a, b) => this.position.get(a)! - this.position.get(b)!);
    return found.slice(0, limit).map((r) => (withText ? hit(r, 0, false) : { ...r.chunk, doc: '', text: '', rawScore: 0 }));
  }

  private async matched(match: TextMatch, limit: number, withTokens: boolean): Promise<ChunkHit[]> {
    const ids = await this.store.matchIds(match, limit);
    return ids.flatMap(({ id, score }) => {
      const r = this.byId.get(id);
      return r ? [hit(r, score, withTokens)] : [];
    });
  }
}

/** A fresh hit per call: callers may annotate their hits. Tokens only where IndexStore selects them. */
function hit(r: ChunkRecord, rawScore: number, withTokens: boolean): ChunkHit {
  return withTokens ? { ...r.chunk, rawScore, tokens: r.tokens } : { ...r.chunk, rawScore };
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
