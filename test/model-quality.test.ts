// `npm run model-quality` learns the very model `codesearch index` learnt, and ranks every
// definition by exact cosine for each question.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { IndexStore } from '../indexer/store.js';
import { cleanupTempDirs, indexedFixture, makeTempDir, REPO_ROOT } from './helpers.js';

const TOOL = path.join(REPO_ROOT, 'dist', 'bench', 'model-quality.js');

let db: string;
let storedModel: string;

beforeAll(async () => {
  ({ db } = await indexedFixture('mini'));
  const store = await IndexStore.openForSearch(db);
  storedModel = (await store.getMeta('embedder_id')) ?? '';
  store.close();
});

afterAll(() => cleanupTempDirs());

function run(cases: object[], ...args: string[]) {
  const file = path.join(makeTempDir('cs-cases-'), 'cases.jsonl');
  writeFileSync(file, cases.map((c) => JSON.stringify(c)).join('\n') + '\n');
  return spawnSync(process.execPath, [TOOL, file, '--db', db, ...args], { encoding: 'utf8' });
}

describe('model-quality', () => {
  it("learns the index's own model and finds an answer the index holds, not one it lacks", () => {
    expect(storedModel).toMatch(/^static-/);
    const held = { id: 'h', kind: 'howto', query: 'remove leading and trailing whitespace from a string', expected: [{ path: 'src/strkit_string.ml', line: 21 }] };
    const absent = { id: 'a', kind: 'howto', query: 'remove leading and trailing whitespace from a string', expected: [{ path: 'src/nowhere.ml', line: 1 }] };
    // A symbol case is looked up, not embedded: left out of the count.
    const symbol = { id: 's', kind: 'symbol', query: 'Strkit_string.trim', expected: [{ path: 'src/strkit_string.ml', line: 21 }] };
    const out = run([held, symbol]);
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toContain(`model ${storedModel}:`);
    expect(out.stdout).toMatch(/cases\s+n=1\s+R@10 1\.000\s+R@50 1\.000\s+R@200 1\.000/);
    const missing = run([absent]);
    expect(missing.stdout).toMatch(/cases\s+n=1\s+R@10 0\.000/);
  });

  it('learns another model under other options, and refuses a bad one with a message', () => {
    const held = { id: 'h', kind: 'howto', query: 'trim whitespace', expected: [{ path: 'src/strkit_string.ml', line: 21 }] };
    const other = run([held], '--dims', '8');
    expect(other.status, other.stderr).toBe(0);
    expect(other.stdout).toMatch(/model static-r\d+-8d-/);
    const bad = run([held], '--dims', 'many');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--dims must be a positive integer');
  });
});
