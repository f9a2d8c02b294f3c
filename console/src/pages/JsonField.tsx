// A labelled JSON textarea with its syntax error inline (aria-invalid, described by the error),
// shared by the editors that take JSON, and the typed text with its check.

import { useState } from "preact/hooks";
import { parseJson, type Kind } from "../json";

/** JSON text being typed, checked as it changes; sent as typed (`text`), not re-serialised. */
export function useJsonText(initial: string, kind: Kind, what: string) {
  const [text, setText] = useState(initial);
  const parsed = parseJson(text, kind, what);
  return { text, setText, error: parsed.error, value: parsed.value };
}

export function JsonField(props: {
  id: string;
  label: string;
  value: string;
  error?: string;
  hint?: string;
  rows?: number;
  required?: boolean;
  onInput: (text: string) => void;
}) {
  const { id, error, hint } = props;
  const described = [hint ? `${id}-help` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return (
    <>
      <label for={id}>{props.label}</label>
      <textarea
        id={id}
        class="json-editor"
        rows={props.rows ?? 8}
        spellcheck={false}
        required={props.required}
        value={props.value}
        aria-invalid={error ? true : undefined}
        aria-describedby={described || undefined}
        onInput={(e) => props.onInput(e.currentTarget.value)}
      />
      {hint ? (
        <p id={`${id}-help`} class="hint">
          {hint}
        </p>
      ) : null}
      {error ? (
        <p id={`${id}-error`} class="error">
          {error}
        </p>
      ) : null}
    </>
  );
}
