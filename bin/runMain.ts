/**
 * Entry-point wrapper: run `main`, and on a known error print one clear line (code and message)
 * and exit non-zero; unknown errors print their stack.
 */
import { QwenbotError } from "../src/errors.ts";

export function runMain(main: () => Promise<number | undefined>): void {
  main().then(
    (code) => {
      if (typeof code === "number") process.exitCode = code;
    },
    (err: unknown) => {
      if (err instanceof QwenbotError) process.stderr.write(`qwenbot: error [${err.code}]: ${err.message}\n`);
      else process.stderr.write(`qwenbot: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
