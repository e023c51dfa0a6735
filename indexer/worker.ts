// Worker thread: parses the files it is sent and posts their chunks back.
import { parentPort } from 'node:worker_threads';
import { createOcamlParser } from './parse.js';
import { processUnit, type UnitJob } from './process-file.js';

const parser = createOcamlParser();
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

parentPort!.on('message', async (units: UnitJob[]) => {
  const outcomes = [];
  for (const unit of units) {
    outcomes.push(...(await processUnit(unit, parser)));
    // Trees are freed only when the event loop turns; yielding keeps memory flat.
    await yieldToLoop();
  }
  parentPort!.postMessage(outcomes);
});
