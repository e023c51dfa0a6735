// The index on a file system that refuses writes: a full disk and a read-only mount. The update
// fails with one clear line, the last complete index stays searchable, and once there is room
// again the next run completes. Needs `mount` (root, as in CI); skipped with the reason otherwise.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cleanupTempDirs, documentedValues, makeTempDir, runCli, writeFiles, type CliResult } from './helpers.js';

const mountPoint = makeTempDir('cs-storage-mnt-');
const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=32m', 'tmpfs', mountPoint]).status === 0;
const remount = (options: string) => expect(spawnSync('mount', ['-o', `remount,${options}`, mountPoint]).status).toBe(0);

afterAll(() => {
  if (mounted) spawnSync('umount', [mountPoint]);
  cleanupTempDirs();
});

function expectClearRefusal(r: CliResult, reason: RegExp): void {
  expect(r.code).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(reason);
  expect(r.stderr).not.toMatch(/LanceError|\.rs:\d+/);
}

async function symbolsFound(db: string, query: string): Promise<string[]> {
  const r = await runCli(['search', query, '--db', db, '--json', '-k', '3'], { cwd: mountPoint });
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { results: { symbol: string }[] }).results.map((x) => x.symbol);
}

describe.skipIf(!mounted)('an index on a file system that refuses writes (tmpfs mount)', () => {
  let repo: string;
  let db: string;

  beforeAll(async () => {
    repo = makeTempDir('cs-storage-repo-');
    for (let i = 0; i < 20; i++) writeFiles(repo, { [`lib/mod_${i}.ml`]: documentedValues(`value_${i}`, 30) });
    db = path.join(mountPoint, 'db');
    const r = await runCli(['index', repo, '--db', db, '--quiet'], { cwd: mountPoint });
    expect(r.code).toBe(0);
  });

  it('a full disk: the update fails in one line, the previous index answers, and the next run completes once there is room', async () => {
    remount('size=32m');
    // Leave a few KB free: too little for the update below.
    const { bavail, bsize } = fs.statfsSync(mountPoint);
    fs.writeFileSync(path.join(mountPoint, 'filler'), Buffer.alloc(Math.max(0, bavail * bsize - 64 * 1024)));
    for (let i = 20; i < 60; i++) writeFiles(repo, { [`lib/mod_${i}.ml`]: documentedValues(`value_${i}`, 30) });

    const full = await runCli(['index', repo, '--db', db], { cwd: mountPoint });
    expectClearRefusal(full, /cannot write the index .*the disk is full/);
    expect(fs.existsSync(path.join(db, 'index.lock'))).toBe(false);
    expect(await symbolsFound(db, 'value_3_7')).toContain('Mod_3.value_3_7');

    fs.rmSync(path.join(mountPoint, 'filler'));
    const room = await runCli(['index', repo, '--db', db], { cwd: mountPoint });
    expect(room.stderr).toBe('');
    expect(room.code).toBe(0);
    expect(room.stdout).toMatch(/^indexed 60 files .* 1800 chunks/);
    expect(await symbolsFound(db, 'value_42_7')).toContain('Mod_42.value_42_7');
  }, 60_000);

  it('a read-only mount: the update fails in one line, and searching still works', async () => {
    writeFiles(repo, { 'lib/late.ml': 'let late_addition x = x\n' });
    remount('ro');
    try {
      const r = await runCli(['index', repo, '--db', db], { cwd: mountPoint });
      expectClearRefusal(r, /cannot write the index .*read-only/);
      expect(await symbolsFound(db, 'value_42_7')).toContain('Mod_42.value_42_7');
      const context = await runCli(['context', 'value_42_7', '--db', db, '--budget', '400'], { cwd: mountPoint });
      expect(context.code).toBe(0);
      expect(context.stdout).toContain('value_42_7');
    } finally {
      remount('rw');
    }
    const again = await runCli(['index', repo, '--db', db], { cwd: mountPoint });
    expect(again.code).toBe(0);
    expect(await symbolsFound(db, 'late_addition')).toContain('Late.late_addition');
  }, 60_000);
});
