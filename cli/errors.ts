// Exit statuses fixed by the contract, and the one error type commands throw to use them.
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
