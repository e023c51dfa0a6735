// Several processes may write one index on an object store only if the store refuses a PUT
// with `If-None-Match: *` of an object that exists: LanceDB commits a table version that way,
// and retries when it loses. A store that ignores the header (s3rver) lets concurrent
// commits overwrite each other silently. This asks the store once, with a throwaway object.
import { randomUUID } from 'node:crypto';
import aws4 from 'aws4';

export type ConditionalPutAnswer = 'honoured' | 'ignored' | 'unknown';

/**
 * Whether the S3-compatible server behind `location` honours conditional PUTs. Only a server
 * named by AWS_ENDPOINT is asked: AWS S3, Google Cloud Storage and Azure all honour them.
 */
export async function probeConditionalPut(location: string, env: NodeJS.ProcessEnv = process.env): Promise<ConditionalPutAnswer> {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/i.exec(location);
  const endpoint = env.AWS_ENDPOINT ?? env.AWS_ENDPOINT_URL;
  if (!m) return 'honoured';
  if (!endpoint) return 'honoured';
  const [, bucket, prefix] = m;
  const key = `${prefix ? `${prefix.replace(/\/+$/, '')}/` : ''}_codesearch_probe/${randomUUID()}`;
  const url = new URL(`/${bucket}/${key}`, endpoint);
  const credentials = { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN };
  const send = async (method: 'PUT' | 'DELETE', headers: Record<string, string>, body?: string) => {
    const signed = aws4.sign(
      { host: url.host, path: url.pathname, method, service: 's3', region: env.AWS_REGION ?? 'us-east-1', headers, ...(body !== undefined ? { body } : {}) },
      credentials,
    );
    const sent = { ...(signed.headers as Record<string, string>) };
    delete sent.Host;
    return fetch(url, { method, headers: sent, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(10_000) });
  };
  try {
    const first = await send('PUT', { 'If-None-Match': '*', 'Content-Type': 'text/plain' }, 'probe');
    if (!first.ok) return 'unknown';
    const second = await send('PUT', { 'If-None-Match': '*', 'Content-Type': 'text/plain' }, 'probe again');
    await send('DELETE', {}).catch(() => undefined);
    if (second.status === 412 || second.status === 409) return 'honoured';
    return second.ok ? 'ignored' : 'unknown';
  } catch {
    return 'unknown';
  }
}
