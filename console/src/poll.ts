// Refreshing on a timer without piling up calls: the next run is scheduled only after the
// previous one settled, and nothing runs after the component went away.

import { useEffect } from "preact/hooks";

/** Runs `run` now and every `ms` after it settles, while `deps` stay the same. */
export function usePolling(run: (alive: () => boolean) => Promise<unknown>, ms: number, deps: unknown[]): void {
  useEffect(() => {
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = () => {
      run(() => alive)
        .catch(() => undefined)
        .finally(() => {
          if (alive) timer = setTimeout(tick, ms);
        });
    };
    tick();
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, deps);
}
