// An index on an S3-compatible object store, against real servers on 127.0.0.1: s3rver (npm),
// which ignores If-None-Match and fails LanceDB's index builds, stands in for the failures a user
// meets and for a store that concurrent writers must refuse; Ceph's radosgw is the real store.
import fs from 'node:fs';
import path from 'node:path';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeConditionalPut } from '../indexer/conditional-put.js';
import { haveRadosgw, startGateway, stopGateway } from '../bench/s3/gateway.js';
import { describeStoreError, localStateDir, normalizeIndexLocation } from '../indexer/location.js';
import { cleanupTempDirs, copyFixture, generatedDefinitions, indexContents, makeTempDir, runCli, SERVING, startCli, waitForExit, writeFiles } from './helpers.js';
import { Searcher, type SearchMode } from '../server/search.js';

const SECRET = 'not-a-real-secret-4f1e';
let server: S3rver;
let env: Record<string, string>;

beforeAll(async () => {
  server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: makeTempDir('cs-s3rver-'), configureBuckets: [{ name: 'idx', configs: [] }] });
  const { port } = await server.run();
  env = { AWS_ENDPOINT: `http://127.0.0.1:${port}`, AWS_ALLOW_HTTP: 'true', AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: SECRET, AWS_REGION: 'us-east-1' };
});
afterAll(async () => {
  await server?.close();
  cleanupTempDirs();
});

/** One line on stderr naming the problem, no Rust debug output, no secret. */
function expectOneLine(r: { code: number | null; stderr: string }, code: number, pattern: RegExp) {
  expect(r.code).toBe(code);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/RetryError|backtrace|\.rs:\d+/);
  expect(r.stderr).not.toContain(SECRET);
}

describe('index locations', () => {
  it('takes local paths, file:// URLs and object-store URIs; refuses other schemes', () => {
    expect(normalizeIndexLocation('idx', '/work')).toBe('/work/idx');
    expect(normalizeIndexLocation('file:///tmp/idx')).toBe('/tmp/idx');
    expect(normalizeIndexLocation('s3://bucket/a/b/')).toBe('s3://bucket/a/b');
    expect(normalizeIndexLocation('gs://bucket/a')).toBe('gs://bucket/a');
    expect(() => normalizeIndexLocation('https://host/a')).toThrow(/object-store URI/);
    expect(() => normalizeIndexLocation('s3://')).toThrow(/names no bucket/);
  });

  it('keeps what a server of a shared index records on this machine, one folder per URI', () => {
    expect(localStateDir('/data/idx')).toBe('/data/idx');
    const a = localStateDir('s3://b/one', { XDG_STATE_HOME: '/state' });
    expect(a).toMatch(/^\/state\/codesearch\/[0-9a-f]{16}$/);
    expect(localStateDir('s3://b/two', { XDG_STATE_HOME: '/state' })).not.toBe(a);
  });

  it('leaves local errors alone, and says what to do when another host superseded what a run read', () => {
    expect(describeStoreError(new Error('disk full'), '/tmp/idx')).toBeUndefined();
    const raced = new Error('lance error: Not found: idx/vectors.lance/_deletions/0-2-82.arrow, /usr/local/cargo/registry/src/lance-io/src/object_store.rs:972:12');
    expect(describeStoreError(raced, 's3://b/idx')).toMatch(/another writer changed the index at s3:\/\/b\/idx .* run it again/);
  });
});

describe('an index on an S3-compatible server', () => {
  it('says in one line when the bucket is missing, the server is down, http is not allowed or credentials are missing', async () => {
    const root = copyFixture('mini');
    const before = fs.readdirSync(root).sort();
    expectOneLine(await runCli(['index', root, '--db', 's3://no-such-bucket/idx'], { cwd: root, env }), 2, /bucket 'no-such-bucket' does not exist/);
    expectOneLine(await runCli(['search', 'x', '--db', 's3://no-such-bucket/idx'], { cwd: root, env }), 2, /bucket 'no-such-bucket' does not exist/);
    expectOneLine(await runCli(['search', 'x', '--db', 's3://idx/idx'], { cwd: root, env: { ...env, AWS_ENDPOINT: 'http://127.0.0.1:9' } }), 2, /cannot reach the object store at http:\/\/127\.0\.0\.1:9/);
    expectOneLine(await runCli(['index', root, '--db', 's3://idx/idx'], { cwd: root, env: { ...env, AWS_ALLOW_HTTP: undefined } }), 1, /AWS_ALLOW_HTTP=true/);
    expectOneLine(await runCli(['index', root, '--db', 's3://idx/idx'], { cwd: root, env: { ...env, AWS_ACCESS_KEY_ID: undefined } }), 1, /AWS_ACCESS_KEY_ID/);
    expectOneLine(await runCli(['search', 'x', '--db', 's3://idx/nothing-here'], { cwd: root, env }), 2, /no codesearch index at s3:\/\/idx\/nothing-here/);
    // Nothing was made on this machine on the way.
    expect(fs.readdirSync(root).sort()).toEqual(before);
  }, 60_000);

  it('finds out whether the store honours conditional PUTs, and refuses shards on one that does not', async () => {
    expect(await probeConditionalPut('s3://idx/probe', { ...process.env, ...env })).toBe('ignored');
    expect(await probeConditionalPut('s3://no-such-bucket/probe', { ...process.env, ...env })).toBe('unknown');
    // Stores that honour them without being asked: AWS itself, GCS, Azure.
    expect(await probeConditionalPut('gs://bucket/idx', {})).toBe('honoured');
    const root = copyFixture('mini');
    const r = await runCli(['index', root, '--db', 's3://idx/sharded', '--shard', '1/2'], { cwd: root, env });
    expectOneLine(r, 1, /ignores If-None-Match on PUT/);
    const local = path.join(makeTempDir('cs-db-'), 'index');
    expect((await runCli(['index', root, '--db', local, '--shard', '1/2', '-q'], { cwd: root, env })).code).toBe(0);
  }, 60_000);
});

// Ceph's S3 gateway from Debian (`.ci/run` installs it): a store that honours conditional PUTs,
// as AWS S3 does, so several writers and readers may share an index on it.
describe.skipIf(!haveRadosgw)('an index shared through a real S3 gateway (radosgw)', () => {
  let rgwDir: string;
  let bucket: string;
  const saved = { ...process.env };

  beforeAll(async () => {
    rgwDir = path.join(makeTempDir('cs-rgw-'), 'rgw');
    bucket = await startGateway(rgwDir, 120_000);
  }, 150_000);
  afterAll(() => {
    stopGateway(rgwDir);
    process.env = saved;
  });

  it('honours conditional PUTs', async () => {
    expect(await probeConditionalPut(`s3://${bucket}/probe`)).toBe('honoured');
  });

  it('indexes into s3://, answers another process, and a serving replica picks up an update from a third without a restart', async () => {
    const root = copyFixture('shop');
    const db = `s3://${bucket}/replicas`;
    const state = makeTempDir('cs-state-');
    const first = await runCli(['index', root, '--db', db, '-q'], { cwd: root });
    expect(first.code, first.stderr).toBe(0);
    const hit = await runCli(['search', 'Cart.add', '--db', db, '--json'], { cwd: root });
    expect(JSON.parse(hit.stdout).results[0].symbol).toBe('Shop.Cart.add');

    process.env.XDG_STATE_HOME = state;
    const { child, match } = await startCli(['serve', '--db', db, '--port', '0', '--refresh', '200', '-q'], SERVING);
    try {
      const symbols = async (q: string) => (await (await fetch(`${match[1]}/v1/symbols?q=${q}`)).json()) as { results: { symbol: string }[] };
      expect((await symbols('apply_discount')).results).toEqual([]);
      writeFiles(root, { 'src/discount.ml': '(** Takes a percentage off. *)\nlet apply_discount pct price = price * (100 - pct) / 100\n' });
      const update = await runCli(['index', root, '--db', db, '-q'], { cwd: root });
      expect(update.stdout).toMatch(/1 new/);
      const deadline = Date.now() + 15_000;
      let found: { symbol: string }[] = [];
      while (Date.now() < deadline && found.length === 0) {
        found = (await symbols('apply_discount')).results;
        if (found.length === 0) await new Promise((r) => setTimeout(r, 100));
      }
      expect(found[0]?.symbol).toBe('Shop.Discount.apply_discount');
      // Its answers' statistics are kept on this machine, not in the shared store.
      const search = await fetch(`${match[1]}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: 'discount' }) });
      expect(search.status).toBe(200);
      expect(fs.existsSync(path.join(localStateDir(db, { XDG_STATE_HOME: state }), 'stats.jsonl'))).toBe(true);
    } finally {
      child.kill('SIGKILL');
      await waitForExit(child.pid!);
    }
  }, 60_000);

  it('keeps one whole copy of each file when two hosts update the shared index at once, and a re-run completes a run that lost a race', async () => {
    // Two checkouts of one repository, each with the same new files and its own edit: under
    // a tenth of the files, so neither re-learns the static model, over a hundredth, so both
    // compact and fold the indexes at once.
    const base = copyFixture('shop');
    writeFiles(base, Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`src/base_${i}.ml`, `(** Base ${i}. *)\nlet base_${i} x = x + ${i}\n`])));
    const a = path.join(makeTempDir('cs-host-a-'), 'shop');
    const b = path.join(makeTempDir('cs-host-b-'), 'shop');
    for (const host of [a, b]) fs.cpSync(base, host, { recursive: true });
    const added = Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`src/new_${i}.ml`, `(** New ${i}. *)\nlet fresh_${i} x = x * ${i}\n`]));
    writeFiles(a, { ...added, 'src/checkout.ml': 'let receipt _ = [ "edited on a" ]\n' });
    writeFiles(b, { ...added, 'src/checkout.ml': 'let receipt _ = [ "edited on b" ]\n' });
    const db = `s3://${bucket}/two-hosts`;
    expect((await runCli(['index', base, '--db', db, '-q'], { cwd: base })).code).toBe(0);
    const runs = await Promise.all([a, b].map((host) => runCli(['index', host, '--db', db, '-q'], { cwd: host })));
    // A run may lose a race on the store (a file another host's compaction superseded under it)
    // and stop with one line, the index whole; at least one gets through, and a re-run completes.
    for (const r of runs) if (r.code !== 0) expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(runs.some((r) => r.code === 0)).toBe(true);
    if (runs[0]!.code !== 0) expect((await runCli(['index', a, '--db', db, '-q'], { cwd: a })).code).toBe(0);
    // Host b's next run settles its one differing file; nothing is left twice or half.
    const last = await runCli(['index', b, '--db', db, '-q'], { cwd: b });
    expect(last.code, last.stderr).toBe(0);
    const local = path.join(makeTempDir('cs-db-'), 'index');
    expect((await runCli(['index', b, '--db', local, '-q'], { cwd: b })).code).toBe(0);
    const [shared, reference] = [await indexContents(db), await indexContents(local)];
    expect(shared.rows).toBe(reference.rows);
    expect(shared.chunks).toEqual(reference.chunks);
  }, 90_000);

  it('answers from row ids on the object store exactly as from chunk ids', async () => {
    const root = copyFixture('netkit');
    writeFiles(root, { 'src/more.ml': generatedDefinitions(400) });
    const db = `s3://${bucket}/rows`;
    expect((await runCli(['index', root, '--db', db, '-q'], { cwd: root })).code).toBe(0);
    // Resident: LanceDB answers row ids, mapped to chunks in memory; not: it answers chunk ids.
    const [byRow, byId] = [await Searcher.open(db, { resident: true }), await Searcher.open(db, { resident: false })];
    try {
      const answers = async (s: Searcher, mode: SearchMode) => (await s.search('open a connection and send bytes', { mode })).map((r) => [r.symbol, r.score]);
      for (const mode of ['lexical', 'vector', 'hybrid'] as const) {
        const expected = await answers(byId, mode);
        expect(expected.length).toBeGreaterThan(0);
        expect(await answers(byRow, mode)).toEqual(expected);
      }
      expect((await byRow.search('f_123'))[0]?.symbol).toMatch(/f_123$/);
    } finally {
      byRow.close();
      byId.close();
    }
  }, 60_000);

  it('builds with two concurrent shards and --finalize the same index as one local process', async () => {
    const root = copyFixture('netkit');
    const local = path.join(makeTempDir('cs-db-'), 'index');
    expect((await runCli(['index', root, '--db', local, '-q'], { cwd: root })).code).toBe(0);
    const db = `s3://${bucket}/sharded`;
    const shards = await Promise.all([1, 2].map((i) => runCli(['index', root, '--db', db, '--shard', `${i}/2`, '-q'], { cwd: root })));
    for (const r of shards) expect(r.code, r.stderr).toBe(0);
    const fin = await runCli(['index', '--finalize', '--db', db, '-q'], { cwd: root });
    expect(fin.code, fin.stderr).toBe(0);
    expect(await indexContents(db)).toEqual(await indexContents(local));
  }, 90_000);
});
