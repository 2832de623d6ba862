// What the hostile suite observed, summed over every case, for the one summary line it prints
// at the end. Cases record here BEFORE they assert, so a failing case still counts.
export interface Tally {
  badInputs: number;
  acceptedInputs: number;
  faults: number;
  crashPoints: number;
  /** Dispatches that ended in a way the fault table does not allow (signal, exit code, uncaught error). */
  readonly crashes: string[];
  /** Host files that changed where they had to stay byte-identical, or were torn. */
  readonly changedFiles: string[];
  /** Places outside clouds.yaml (mode 0600) where the canary password turned up. */
  readonly leaks: string[];
}

export const tally: Tally = { badInputs: 0, acceptedInputs: 0, faults: 0, crashPoints: 0, crashes: [], changedFiles: [], leaks: [] };

export function summaryLine(t: Tally = tally): string {
  return (
    `${t.badInputs} bad inputs (+${t.acceptedInputs} accepted), ${t.faults} faults, ${t.crashPoints} crash points: ` +
    `${t.crashes.length} crashes, ${t.changedFiles.length} changed files, ${t.leaks.length} leaks`
  );
}
