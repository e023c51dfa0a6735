// `npm run demo`: indexes the small OCaml tree shipped with the tests into a temporary LanceDB
// and answers sample questions and a context request — the whole product on the embedded
// default, no servers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { indexRepo } from '../indexer/pipeline.js';
import { Searcher } from '../server/search.js';
import { formatHuman } from './commands/search.js';
import { ContextBuilder } from '../server/context/build.js';

const sample = fileURLToPath(new URL('../../test/fixtures/mini', import.meta.url));
const db = mkdtempSync(join(tmpdir(), 'codesearch-demo-'));
try {
  const summary = await indexRepo({ root: sample, db, onWarning: (m) => process.stdout.write(`  warning: ${m}\n`) });
  process.stdout.write(`indexed ${sample}: ${summary.files} files, ${summary.chunks} chunks in ${summary.seconds.toFixed(2)}s (index: ${db})\n`);
  const searcher = await Searcher.open(db);
  try {
    for (const question of ['how do I split a string on a character', 'Point.distance', 'concat_mapp', 'char -> string -> string list']) {
      process.stdout.write(`\n$ codesearch "${question}"\n`);
      process.stdout.write(formatHuman(await searcher.search(question, { k: 3 })));
    }
    const prompt = 'add an optional ~sep argument to concat_map';
    process.stdout.write(`\n$ codesearch context "${prompt}" --budget 400\n`);
    const window = await (await ContextBuilder.create(searcher)).build({ prompt, budget: 400 });
    process.stdout.write(`${window.text}\n-- ${window.items.length} items, ${window.tokens} of ${window.budget} tokens\n`);
  } finally {
    searcher.close();
  }
} finally {
  rmSync(db, { recursive: true, force: true });
}
