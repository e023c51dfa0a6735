// The throwaway Ceph S3 gateway of radosgw.sh, for the s3 trial and the tests: started on a free
// loopback port, its settings put in this process's environment, which children inherit.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { CLI_MAIN } from '../trials/cli.js';

const RADOSGW = resolve(CLI_MAIN, '../../../bench/s3/radosgw.sh');

/** Whether Debian's radosgw is installed (`.ci/run` installs it). */
export const haveRadosgw = existsSync('/usr/bin/radosgw');

/** A free port on 127.0.0.1: radosgw takes a port, not 0. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** Starts a gateway under `dir`; resolves with its bucket once AWS_* and CODESEARCH_S3_BUCKET are set here. */
export async function startGateway(dir: string, timeoutMs = 150_000): Promise<string> {
  if (!haveRadosgw) throw new Error('radosgw is not installed: apt-get install radosgw ceph-mon ceph-osd ceph-common');
  const started = spawnSync('bash', [RADOSGW, 'start', dir, String(await freePort())], { encoding: 'utf8', timeout: timeoutMs });
  if (started.status !== 0) throw new Error(`radosgw did not start: ${started.stderr.slice(-2000)}`);
  for (const [, k, v] of started.stdout.matchAll(/^export (\w+)=(.*)$/gm)) process.env[k!] = v!;
  return process.env.CODESEARCH_S3_BUCKET!;
}

export function stopGateway(dir: string): void {
  spawnSync('bash', [RADOSGW, 'stop', dir]);
}
