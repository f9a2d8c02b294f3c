// An editor for a thing's attributes: one row per name and value.

export type Row = { name: string; value: string };

export const toRows = (attrs: Record<string, string> | undefined): Row[] =>
  Object.entries(attrs ?? {}).map(([name, value]) => ({ name, value }));

export function toAttributes(rows: Row[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of rows) if (r.name.trim()) out[r.name.trim()] = r.value;
  return out;
}

export function AttributesEditor({ rows, onChange, idPrefix }: { rows: Row[]; onChange: (rows: Row[]) => void; idPrefix: string }) {
  const set = (i: number, r: Partial<Row>) => onChange(rows.map((x, j) => (j === i ? { ...x, ...r } : x)));
  return (
    <fieldset class="attributes">
      <legend>Attributes</legend>
      {rows.length === 0 ? <p class="hint">No attributes.</p> : null}
      {rows.map((r, i) => (
        <div class="attr-row" key={i}>
          <label for={`${idPrefix}-name-${i}`}>Name</label>
          <input id={`${idPrefix}-name-${i}`} value={r.name} onInput={(e) => set(i, { name: e.currentTarget.value })} />
          <label for={`${idPrefix}-value-${i}`}>Value</label>
          <input id={`${idPrefix}-value-${i}`} value={r.value} onInput={(e) => set(i, { value: e.currentTarget.value })} />
          <button type="button" aria-label={`Remove attribute ${r.name || i + 1}`} onClick={() => onChange(rows.filter((_, j) => j !== i))}>
            Remove
          </button>
        </div>
      ))}
      <button type="button" onClick={() => onChange([...rows, { name: "", value: "" }])}>
        Add attribute
      </button>
    </fieldset>
  );
}
