// The fast form of `npm run trials -- scale`: three hard-linked copies of a small repo are
// indexed, searched and edited live, and the source tree is left exactly as it was.
import { describe, it, expect, afterAll } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { runScaleTrial } from '../bench/trials/scale-trial.js';
import { cleanupTempDirs, makeTempDir, writeFiles, documentedValues } from './helpers.js';

afterAll(cleanupTempDirs);

/** Every file under `root` with its bytes and modification time. */
function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) visit(p);
      else out.set(path.relative(root, p), `${statSync(p).mtimeMs} ${readFileSync(p, 'base64')}`);
    }
  };
  visit(root);
  return out;
}

describe('the scale trial', () => {
  it('indexes, searches and updates N copies live without writing the source tree', async () => {
    const source = makeTempDir('cs-scale-src-');
    writeFiles(source, { 'lib/dune': '(library (name lib))\n' });
    for (let i = 0; i < 12; i++) writeFiles(source, { [`lib/m_${i}.ml`]: documentedValues(`v_${i}`, 20) });
    const before = snapshot(source);
    const lines: string[] = [];
    const r = await runScaleTrial({ source, workDir: path.join(makeTempDir('cs-scale-work-'), 'work'), copies: 3, edits: 3, queries: ['v_3_7', 'documented value'], log: (l) => lines.push(l) });
    expect(r.summary).toMatch(/^indexed 36 files/);
    expect(r.chunks).toBe(3 * 12 * 20);
    expect(r.fresh).toHaveLength(3);
    expect(r.oneShot.hybrid.length).toBeGreaterThan(0);
    expect(r.http).toHaveLength(2);
    expect(lines.some((l) => l.startsWith('save → searchable over 3 edits'))).toBe(true);
    expect(snapshot(source)).toEqual(before);
  }, 120_000);
});
