// Where an index lives: a directory on this machine, or a LanceDB URI on an object store
// (`s3://bucket/prefix`, `gs://…`, `az://…`) that several machines share. LanceDB reads the
// store's settings from the environment (AWS_ENDPOINT, AWS_ALLOW_HTTP, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_REGION, ...); codesearch never logs them.
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Object stores LanceDB opens; `memory://` is left out: an index there dies with its process. */
export const OBJECT_STORE_SCHEMES = ['s3', 's3+ddb', 'gs', 'az', 'abfs'] as const;

const URI = /^([a-z][a-z0-9+.-]*):\/\//i;

export class IndexLocationError extends Error {}

/** True for an object-store URI, false for a local path. */
export function isRemoteIndex(location: string): boolean {
  return URI.test(location);
}

/**
 * `--db` as LanceDB takes it: a local path resolved against `cwd` (a `file://` URL is one), or
 * an object-store URI as given. Other schemes are refused: taken as a path, `s3:/x` once made a
 * local directory named `s3:`.
 */
export function normalizeIndexLocation(location: string, cwd: string = process.cwd()): string {
  if (location.startsWith('file://')) return fileURLToPath(location);
  const scheme = URI.exec(location)?.[1]?.toLowerCase();
  if (scheme === undefined) return resolve(cwd, location);
  if (!(OBJECT_STORE_SCHEMES as readonly string[]).includes(scheme)) {
    throw new IndexLocationError(`cannot keep an index at ${location}: use a local directory or an object-store URI (${OBJECT_STORE_SCHEMES.map((s) => `${s}://`).join(', ')})`);
  }
  if (!/^[a-z0-9+.-]+:\/\/[^/]+/i.test(location)) throw new IndexLocationError(`${location} names no bucket: use ${scheme}://BUCKET/PREFIX`);
  return location.replace(/\/+$/, '');
}

/**
 * A directory on this machine for what one server keeps for itself (its answer statistics):
 * the index directory when it is local, else a folder named after the URI under the user's
 * state directory.
 */
export function localStateDir(location: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!isRemoteIndex(location)) return location;
  const base = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, 'codesearch', createHash('sha1').update(location).digest('hex').slice(0, 16));
}

/**
 * Settings an S3-compatible server needs that are missing from the environment, found before
 * LanceDB would retry for seconds and fail with a Rust error.
 */
export function missingStoreSettings(location: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!/^s3(\+ddb)?:\/\//i.test(location)) return undefined;
  const endpoint = env.AWS_ENDPOINT ?? env.AWS_ENDPOINT_URL;
  if (endpoint?.startsWith('http://') && !/^(true|1)$/i.test(env.AWS_ALLOW_HTTP ?? '')) {
    return `the object store at ${endpoint} is plain http: set AWS_ALLOW_HTTP=true to allow it`;
  }
  if (endpoint && !env.AWS_ACCESS_KEY_ID && !env.AWS_PROFILE) {
    return `no credentials for the object store at ${endpoint}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`;
  }
  return undefined;
}

/**
 * One line for an object-store failure that LanceDB reports as a page of Rust debug output;
 * undefined when `err` is not one (a local error keeps its own message).
 */
export function describeStoreError(err: unknown, location: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!isRemoteIndex(location)) return undefined;
  const text = err instanceof Error ? err.message : String(err);
  const endpoint = env.AWS_ENDPOINT ?? env.AWS_ENDPOINT_URL ?? 'the default endpoint';
  const bucket = /^[^:]+:\/\/([^/]+)/.exec(location)?.[1] ?? '';
  if (/NoSuchBucket/.test(text)) return `the bucket '${bucket}' does not exist at ${endpoint}: create it first`;
  if (/InvalidAccessKeyId|SignatureDoesNotMatch|AccessDenied|status: 40[13]\b/.test(text)) {
    return `the object store at ${endpoint} refused the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) for ${location}`;
  }
  if (/kind: Builder/.test(text) && /^http:/.test(endpoint)) return `the object store at ${endpoint} is plain http: set AWS_ALLOW_HTTP=true to allow it`;
  if (/kind: (Connect|Request)|dns error|error sending request|Connection refused/i.test(text)) {
    return `cannot reach the object store at ${endpoint} for ${location}${env.AWS_ENDPOINT ? '' : ' (set AWS_ENDPOINT for an S3-compatible server)'}`;
  }
  if (/Not found: \S+\.(lance|arrow|manifest|txn)\b|Retryable commit conflict/.test(text)) {
    return `another writer changed the index at ${location} under this run (a file it was reading was superseded); what was committed is whole: run it again`;
  }
  if (/Generic \{ store|object_store|S3 error/.test(text)) return `the object store failed for ${location}: ${text.split('\n')[0]!.slice(0, 200)}`;
  return undefined;
}
