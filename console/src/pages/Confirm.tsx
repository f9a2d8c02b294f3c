// A destructive row action asked twice: the first button turns into "Confirm …" and "Cancel",
// both naming what they act on for screen readers.

import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";

export function Confirm(props: { verb: string; what: string; busy: boolean; onConfirm: () => Promise<boolean> | void; children?: ComponentChildren }) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" class="danger" onClick={() => setAsking(true)}>
        {props.verb}
        <span class="sr"> {props.what}</span>
      </button>
    );
  }
  return (
    <>
      {props.children}
      <button
        type="button"
        class="danger"
        disabled={props.busy}
        onClick={async () => {
          if ((await props.onConfirm()) !== false) setAsking(false);
        }}
      >
        Confirm {props.verb.toLowerCase()}
        <span class="sr"> {props.what}</span>
      </button>
      <button type="button" onClick={() => setAsking(false)}>
        Cancel<span class="sr"> {props.verb.toLowerCase()} {props.what}</span>
      </button>
    </>
  );
}
