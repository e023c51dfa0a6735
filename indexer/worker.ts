// Worker thread: parses the files it is sent and posts their chunks back.
import { parentPort } from 'node:worker_threads';
import { createOcamlParser } from './parse.js';
import { processFile, type FileJob } from './process-file.js';

const parser = createOcamlParser();
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

parentPort!.on('message', async (jobs: FileJob[]) => {
  const outcomes = [];
  for (const job of jobs) {
    outcomes.push(await processFile(job, parser));
    // Trees are freed only when the event loop turns; yielding keeps memory flat.
    await yieldToLoop();
  }
  parentPort!.postMessage(outcomes);
});
