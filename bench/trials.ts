// `npm run trials -- NAME [options]`: the full-size reliability trials (crash, hostile, fuzz, load).
// Each trial is a module in bench/trials/ exporting a `Trial`; `npm test` runs their fast forms.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Trial } from './trials/trial.js';

const here = fileURLToPath(new URL('./trials/', import.meta.url));
const names = readdirSync(here).filter((f) => f.endsWith('.js') && f !== 'trial.js').map((f) => f.slice(0, -3)).sort();
const [name, ...argv] = process.argv.slice(2);

if (!name || !names.includes(name)) {
  const lines = await Promise.all(names.map(async (n) => `  ${n.padEnd(10)} ${((await import(`./trials/${n}.js`)) as { default: Trial }).default.description}`));
  process.stderr.write(`usage: npm run trials -- NAME [options]\n\n${lines.join('\n')}\n`);
  process.exit(name ? 2 : 0);
}
const trial = ((await import(`./trials/${name}.js`)) as { default: Trial }).default;
const passed = await trial.run(argv);
process.exitCode = passed ? 0 : 1;
