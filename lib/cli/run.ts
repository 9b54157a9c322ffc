/** Runs a CLI's `main` and exits with its code; an unexpected failure prints its stack and exits 1. */
export function run(name: string, main: (argv: string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${name}: ${err instanceof Error && err.stack ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
