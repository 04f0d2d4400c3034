/** A pass run every `everyMs`, never two at once, that can be stopped and awaited. */
export interface Periodic {
  /** Stops the timer, aborts the pass under way (its signal) and waits for it. */
  stop(): Promise<void>;
}

/** Starts `pass` now and every `everyMs` after the previous pass ends; errors go to `onError`. */
export function periodic(
  everyMs: number,
  pass: (signal: AbortSignal) => Promise<unknown>,
  onError: (err: unknown) => void,
): Periodic {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const run = () => {
    timer = undefined;
    running = pass(abort.signal)
      .then(() => undefined, onError)
      .finally(() => {
        running = undefined;
        if (!abort.signal.aborted) {
          timer = setTimeout(run, everyMs);
          timer.unref();
        }
      });
  };
  run();
  return {
    async stop() {
      abort.abort();
      clearTimeout(timer);
      await running;
    },
  };
}
