// The Emacs layer (editors/emacs/codesearch.el) driven by a real `emacs --batch` against a real
// `codesearch serve` on 127.0.0.1: the results buffer and its jump, and the context window.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { indexRepo } from '../indexer/pipeline.js';
import { REPO_ROOT, SERVING, cleanupTempDirs, copyFixture, startCli } from './helpers.js';

// emacs-nox comes from Debian (.ci/run installs it); a machine without it skips these.
const haveEmacs = spawnSync('emacs', ['--version']).status === 0;
const LISP = path.join(REPO_ROOT, 'editors/emacs/codesearch.el');

let root: string;
let server: ChildProcess | undefined;
let url: string;

/** Runs `emacs --batch` in `root` with the layer loaded and pointed at the server; its stdout. */
function emacs(lisp: string): { out: string; code: number | null } {
  const r = spawnSync('emacs', ['--batch', '-Q', '-l', LISP, '--eval', `(progn (setq codesearch-url "${url}") ${lisp})`], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { out: `${r.stdout}${r.stderr}`, code: r.status };
}

describe.runIf(haveEmacs || process.env.CI)('Emacs layer (emacs --batch)', () => {
  beforeAll(async () => {
    root = copyFixture('shop');
    await indexRepo({ root, db: path.join(root, '.codesearch') });
    const started = await startCli(['serve', '--db', path.join(root, '.codesearch'), '--port', '0', '-q'], SERVING);
    server = started.child;
    url = started.match[1]!;
  });

  afterAll(() => {
    server?.kill('SIGTERM');
    cleanupTempDirs();
  });

  it('M-x codesearch lists path:line results, and RET on one opens the definition there', () => {
    const { out, code } = emacs(`(codesearch "Cart.total")
      (with-current-buffer "*codesearch*"
        (princ (buffer-string))
        (goto-char (point-min))
        (re-search-forward "^src/cart\\\\.ml:")
        (beginning-of-line)
        (compile-goto-error)
        (princ (format "JUMPED %s:%d\\n" (file-relative-name buffer-file-name (codesearch--root)) (line-number-at-pos))))`);
    expect(code).toBe(0);
    expect(out).toMatch(/^src\/cart\.ml:11: Shop\.Cart\.total \(value\)$/m);
    expect(out).toMatch(/^src\/cart\.mli:16: Shop\.Cart\.total \(value\)$/m);
    expect(out).toContain('JUMPED src/cart.ml:11');
  });

  it('M-x codesearch-context sends the file, line and *compilation* errors and shows the window', () => {
    const { out, code } = emacs(`(find-file "src/checkout.ml")
      (goto-char (point-min))
      (forward-line 2)
      (with-current-buffer (get-buffer-create "*compilation*")
        (insert "File \\"src/cart.ml\\", line 9, characters 22-32:\\nError: This expression has type string but an expression was expected of type int\\n"))
      (codesearch-context "waive the shipping fee for large orders")
      (with-current-buffer "*codesearch-context*" (princ header-line-format) (terpri) (princ (buffer-string))))`);
    expect(code).toBe(0);
    expect(out).toMatch(/codesearch: \d+ items, \d+ of 8000 tokens/);
    expect(out).toContain('### src/checkout.ml:2-5 `Shop.Checkout.charge` (cursor)');
    expect(out).toMatch(/### src\/cart\.ml:9-9 `Shop\.Cart\.line_price` \(error-site/);
  });

  it('says in one line when the server cannot be reached', () => {
    const r = spawnSync('emacs', ['--batch', '-Q', '-l', LISP, '--eval', '(progn (setq codesearch-url "http://127.0.0.1:9") (condition-case err (codesearch "x") (user-error (princ (error-message-string err)))))'], { cwd: root, encoding: 'utf8' });
    expect(r.stdout).toMatch(/^codesearch: http:\/\/127\.0\.0\.1:9 is not reachable \([^,\n]*\)$/);
  });
});
