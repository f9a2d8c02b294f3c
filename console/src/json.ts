// JSON typed into the page's editors (shadow desired state, rule actions, job documents,
// policies): parsed as the user types, so a syntax error shows next to the text, not after a
// round trip to the API.

export const pretty = (v: unknown) => JSON.stringify(v, null, 2);

/** A document the API keeps as text (a policy, a job document), indented when it is JSON. */
export function prettyText(text: string): string {
  try {
    return pretty(JSON.parse(text));
  } catch {
    return text;
  }
}

export type Kind = "object" | "array" | "object or null" | "any";

/** The value typed, or what is wrong with it (JSON syntax, or not the kind the API takes). */
export function parseJson(text: string, kind: Kind = "any", what = "The value"): { value?: unknown; error?: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { error: `Not valid JSON: ${(e as Error).message}` };
  }
  const isObject = v !== null && typeof v === "object" && !Array.isArray(v);
  if (kind === "object" && !isObject) return { error: `${what} must be a JSON object.` };
  if (kind === "object or null" && v !== null && !isObject) return { error: `${what} must be a JSON object (or null to clear it).` };
  if (kind === "array" && !Array.isArray(v)) return { error: `${what} must be a JSON array.` };
  return { value: v };
}
