// What every reliability trial is: a description for the usage text, and a run that prints its
// own report and says whether the trial passed.
export interface Trial {
  description: string;
  /** `argv`: the options after the trial's name. Resolves true when every check held. */
  run(argv: string[]): Promise<boolean>;
}
