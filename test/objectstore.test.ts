// An index on an S3-compatible object store, against a real server on 127.0.0.1: s3rver (npm),
// which answers every request LanceDB makes for a table but ignores If-None-Match, so it stands
// in for the failures a user meets and for a store that concurrent writers must refuse.
import fs from 'node:fs';
import path from 'node:path';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeConditionalPut } from '../indexer/conditional-put.js';
import { describeStoreError, localStateDir, normalizeIndexLocation } from '../indexer/location.js';
import { cleanupTempDirs, copyFixture, makeTempDir, runCli } from './helpers.js';

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

  it('leaves local errors alone', () => {
    expect(describeStoreError(new Error('disk full'), '/tmp/idx')).toBeUndefined();
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
