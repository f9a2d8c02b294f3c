// JSON typed into an editor: what is wrong with it, said where it is typed, before any call.

export const pretty = (v: unknown) => JSON.stringify(v, null, 2);

/** The object `text` holds, or why it is not one (`null` passes when `allowNull`). */
export function parseObject(text: string, what: string, allowNull = false): { value?: Record<string, unknown> | null; error?: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { error: `Not valid JSON: ${(e as Error).message}` };
  }
  if (v === null && allowNull) return { value: null };
  if (v === null || typeof v !== "object" || Array.isArray(v)) return { error: `${what} must be a JSON object${allowNull ? " (or null to clear it)" : ""}.` };
  return { value: v as Record<string, unknown> };
}
