// `npm run trials -- NAME [options]`: the full-size reliability trials (crash, growth, hostile,
// fuzz, load). A trial is a module in bench/trials/ whose default export is a `Trial`; the other
// modules there are what trials and their fast forms in `npm test` share.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Trial } from './trials/trial.js';

const here = fileURLToPath(new URL('./trials/', import.meta.url));
const trials = new Map<string, Trial>();
for (const file of readdirSync(here).filter((f) => f.endsWith('.js')).sort()) {
  const exported = ((await import(`./trials/${file}`)) as { default?: Partial<Trial> }).default;
  if (typeof exported?.run === 'function' && typeof exported.description === 'string') trials.set(file.slice(0, -3), exported as Trial);
}
const [name, ...argv] = process.argv.slice(2);
const trial = name === undefined ? undefined : trials.get(name);
if (!trial) {
  const lines = [...trials].map(([n, t]) => `  ${n.padEnd(10)} ${t.description}`);
  process.stderr.write(`${name ? `no trial '${name}'\n` : ''}usage: npm run trials -- NAME [options]\n\n${lines.join('\n')}\n`);
  process.exit(name ? 2 : 0);
}
process.exitCode = (await trial.run(argv)) ? 0 : 1;
