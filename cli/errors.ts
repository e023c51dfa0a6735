// Exit statuses fixed by the contract, and the one error type commands throw to use them.
import { describeStoreError } from '../indexer/location.js';

export const EXIT_OK = 0;
export const EXIT_USAGE = 1;
export const EXIT_NO_INDEX = 2;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_USAGE,
  ) {
    super(message);
  }
}

/** Why the file system refused a write, from a Node errno code or a LanceDB (Rust) "os error N". */
const STORAGE_FAILURES: [RegExp, string][] = [
  [/\bENOSPC\b|os error 28\b/, 'the disk is full (no space left on device)'],
  [/\bEROFS\b|os error 30\b/, 'the file system is read-only'],
  [/\bEACCES\b|\bEPERM\b|os error 13\b/, 'permission denied'],
];

/**
 * A write to the index that the file system refused, as one clear line (LanceDB's own message is
 * a Rust backtrace chain). Commits are atomic, so what readers see is the last complete index.
 */
export function storageError(err: unknown, db: string): CliError | undefined {
  const store = describeStoreError(err, db);
  if (store) return new CliError(store, EXIT_NO_INDEX);
  const text = `${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message ?? ''}`;
  const reason = STORAGE_FAILURES.find(([pattern]) => pattern.test(text))?.[1];
  if (!reason) return undefined;
  return new CliError(`cannot write the index at ${db}: ${reason}; the last complete index is intact and still searchable`, EXIT_NO_INDEX);
}
