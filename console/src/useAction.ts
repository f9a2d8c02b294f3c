// The state every page action shares: one action at a time (buttons disabled while it runs),
// its outcome as a status line or the API's error, and a counter the page's reads depend on so
// they are read again after a change. A row that reports to its list instead passes `onDone`,
// which hears the message of each action that succeeded.

import { useState } from "preact/hooks";
import { describe } from "./api";

export function useAction(onDone?: (message: string) => void) {
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState("");
  const [error, setError] = useState("");
  const [reload, setReload] = useState(0);

  /** Runs `action`; true when it succeeded (callers then clear their inputs). */
  async function run(action: () => Promise<unknown>, message = ""): Promise<boolean> {
    setBusy(true);
    setError("");
    setStatus("");
    try {
      await action();
      setStatus(message);
      setReload((n) => n + 1);
      onDone?.(message);
      return true;
    } catch (e) {
      setError(describe(e));
      return false;
    } finally {
      setBusy(false);
    }
  }

  return { busy, status, error, setError, run, reload };
}
