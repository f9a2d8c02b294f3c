// Things: ListThings page by page (nextToken), filtered by type and attribute on the server
// and by name prefix in the page (ListThings has no name filter), create, edit attributes
// (UpdateThing with the version read, so a concurrent change is reported, not overwritten),
// delete.

import { useEffect, useLayoutEffect, useState } from "preact/hooks";
import { Api, describe, seg } from "../api";
import { useAction } from "../useAction";
import { AttributesEditor, toAttributes, toRows, type Row } from "./Attributes";
import { Confirm } from "./Confirm";
import { Feedback } from "./Feedback";
import { Pager, useMarkers } from "./Pager";
import { ThingDetails } from "./ThingDetails";

interface Thing {
  thingName: string;
  thingTypeName?: string;
  thingArn?: string;
  attributes?: Record<string, string>;
  version?: number;
}

interface Filters {
  namePrefix: string;
  thingTypeName: string;
  attributeName: string;
  attributeValue: string;
  usePrefixAttributeValue: boolean;
}

const EMPTY: Filters = { namePrefix: "", thingTypeName: "", attributeName: "", attributeValue: "", usePrefixAttributeValue: false };
const PAGE_SIZE = 25;

export function Things({ api }: { api: Api }) {
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [applied, setApplied] = useState<Filters>(EMPTY);
  const pages = useMarkers();
  const [things, setThings] = useState<Thing[]>([]);
  const [next, setNext] = useState<string | undefined>();
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState("");
  const [status, setStatus] = useState("");
  const [editing, setEditing] = useState<string | null>(null);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    let live = true;
    setLoading(true);
    setError("");
    api
      .call<{ things?: Thing[]; nextToken?: string }>("GET", "/things", {
        query: {
          maxResults: PAGE_SIZE,
          nextToken: pages.marker,
          thingTypeName: applied.thingTypeName.trim(),
          attributeName: applied.attributeName.trim(),
          attributeValue: applied.attributeName.trim() ? applied.attributeValue : "",
          usePrefixAttributeValue: applied.usePrefixAttributeValue && applied.attributeName.trim() ? true : undefined,
        },
      })
      .then((r) => {
        if (!live) return;
        setThings(r.things ?? []);
        setNext(r.nextToken);
      })
      .catch((e) => live && setError(describe(e)))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [api, applied, pages.marker, reload]);

  const shown = things.filter((t) => t.thingName.startsWith(applied.namePrefix.trim()));

  return (
    <section>
      <h1>Things</h1>
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          pages.reset();
          setApplied(filters);
        }}
      >
        <div class="field">
          <label for="f-name">Name starts with</label>
          <input id="f-name" value={filters.namePrefix} onInput={(e) => setFilters({ ...filters, namePrefix: e.currentTarget.value })} />
        </div>
        <div class="field">
          <label for="f-type">Thing type</label>
          <input id="f-type" value={filters.thingTypeName} onInput={(e) => setFilters({ ...filters, thingTypeName: e.currentTarget.value })} />
        </div>
        <div class="field">
          <label for="f-attr">Attribute name</label>
          <input id="f-attr" value={filters.attributeName} onInput={(e) => setFilters({ ...filters, attributeName: e.currentTarget.value })} />
        </div>
        <div class="field">
          <label for="f-value">Attribute value</label>
          <input id="f-value" value={filters.attributeValue} onInput={(e) => setFilters({ ...filters, attributeValue: e.currentTarget.value })} />
        </div>
        <label class="check">
          <input type="checkbox" checked={filters.usePrefixAttributeValue} onChange={(e) => setFilters({ ...filters, usePrefixAttributeValue: e.currentTarget.checked })} />
          Value is a prefix
        </label>
        <button type="submit">Search</button>
        <button
          type="button"
          onClick={() => {
            setFilters(EMPTY);
            pages.reset();
            setApplied(EMPTY);
          }}
        >
          Clear
        </button>
      </form>
      {applied.namePrefix.trim() ? (
        <p class="hint">ListThings has no name filter: names are matched on each page the server returns.</p>
      ) : null}

      <CreateThing
        api={api}
        onCreated={(name) => {
          setStatus(`Created thing ${name}.`);
          setReload((n) => n + 1);
        }}
      />

      <Feedback status={loading ? "Loading…" : status} error={error} />

      <table class="list" aria-label="Things" aria-busy={loading}>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Type</th>
            <th scope="col">Attributes</th>
            <th scope="col">Version</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {shown.length === 0 && !loading ? (
            <tr>
              <td colSpan={5}>No things on this page.</td>
            </tr>
          ) : null}
          {shown.map((t) => (
            <ThingRow
              key={t.thingName}
              thing={t}
              api={api}
              editing={editing === t.thingName}
              onEdit={(on) => setEditing(on ? t.thingName : null)}
              onChanged={(msg) => {
                setEditing(null);
                setStatus(msg);
                setReload((n) => n + 1);
              }}
            />
          ))}
        </tbody>
      </table>
      <Pager label="things" page={pages.page} next={next} loading={loading} onBack={pages.back} onForward={pages.forward} />
    </section>
  );
}

function ThingRow(props: {
  thing: Thing;
  api: Api;
  editing: boolean;
  onEdit: (on: boolean) => void;
  onChanged: (message: string) => void;
}) {
  const { thing: t, api } = props;
  const [rows, setRows] = useState<Row[]>(toRows(t.attributes));
  const { busy, error, run } = useAction(props.onChanged);
  const [details, setDetails] = useState(false);
  // Not on every new `t`: a list refresh must not discard what is being typed. Before paint
  // (a layout effect): the form opened by Edit must show its rows reset already, or what is
  // typed into it at once is replaced a moment later.
  useLayoutEffect(() => setRows(toRows(t.attributes)), [t.thingName, t.version, props.editing]);

  const attrs = Object.entries(t.attributes ?? {});
  return (
    <>
      <tr data-thing={t.thingName}>
        <th scope="row">{t.thingName}</th>
        <td>{t.thingTypeName ?? "—"}</td>
        <td>
          {attrs.length === 0 ? (
            "—"
          ) : (
            <ul class="attrs">
              {attrs.map(([k, v]) => (
                <li key={k}>
                  <code>{k}</code>=<code>{v}</code>
                </li>
              ))}
            </ul>
          )}
        </td>
        <td>{t.version ?? ""}</td>
        <td class="actions">
          <button type="button" aria-expanded={details} onClick={() => setDetails(!details)}>
            Details<span class="sr"> {t.thingName}</span>
          </button>
          <button type="button" aria-expanded={props.editing} onClick={() => props.onEdit(!props.editing)}>
            Edit<span class="sr"> {t.thingName}</span>
          </button>
          <Confirm
            verb="Delete"
            what={t.thingName}
            busy={busy}
            onConfirm={() => run(() => api.call("DELETE", `/things/${seg(t.thingName)}`, { query: { expectedVersion: t.version } }), `Deleted thing ${t.thingName}.`)}
          />
        </td>
      </tr>
      {details || props.editing || error ? (
        <tr class="detail">
          <td colSpan={5}>
            {details ? <ThingDetails api={api} name={t.thingName} /> : null}
            {props.editing ? (
              <form
                aria-label={`Edit ${t.thingName}`}
                onSubmit={(e) => {
                  e.preventDefault();
                  run(
                    () =>
                      api.call("PATCH", `/things/${seg(t.thingName)}`, {
                        body: { attributePayload: { attributes: toAttributes(rows), merge: false }, expectedVersion: t.version },
                      }),
                    `Saved thing ${t.thingName}.`,
                  );
                }}
              >
                <AttributesEditor rows={rows} onChange={setRows} idPrefix={`edit-${t.thingName}`} />
                <button type="submit" disabled={busy}>
                  Save attributes
                </button>
                <button type="button" onClick={() => props.onEdit(false)}>
                  Cancel
                </button>
              </form>
            ) : null}
            <Feedback error={error} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

function CreateThing({ api, onCreated }: { api: Api; onCreated: (name: string) => void }) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [type, setType] = useState("");
  const [rows, setRows] = useState<Row[]>([]);
  const { busy, error, run } = useAction();

  if (!open) {
    return (
      <button type="button" onClick={() => setOpen(true)}>
        Create thing
      </button>
    );
  }
  return (
    <form
      class="panel"
      aria-label="Create thing"
      onSubmit={(e) => {
        e.preventDefault();
        const attributes = toAttributes(rows);
        run(async () => {
          await api.call("POST", `/things/${seg(name.trim())}`, {
            body: {
              ...(type.trim() ? { thingTypeName: type.trim() } : {}),
              ...(Object.keys(attributes).length ? { attributePayload: { attributes } } : {}),
            },
          });
          onCreated(name.trim());
          setName("");
          setType("");
          setRows([]);
          setOpen(false);
        });
      }}
    >
      <h2>Create thing</h2>
      <label for="new-thing-name">Thing name</label>
      <input id="new-thing-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
      <label for="new-thing-type">Thing type (optional)</label>
      <input id="new-thing-type" value={type} onInput={(e) => setType(e.currentTarget.value)} />
      <AttributesEditor rows={rows} onChange={setRows} idPrefix="new-thing" />
      <Feedback error={error} />
      <button type="submit" disabled={busy}>
        Create
      </button>
      <button type="button" onClick={() => setOpen(false)}>
        Cancel
      </button>
    </form>
  );
}
