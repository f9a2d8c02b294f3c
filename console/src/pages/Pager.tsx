// Paging for the list calls that hand back a marker or next token (ListCertificates,
// ListTopicRules, ListJobs, ListProvisioningTemplates and their versions, ...): the markers of
// the pages before this one are kept so "Previous" can go back.

import { useEffect, useState } from "preact/hooks";
import { describe } from "../api";

export function useMarkers() {
  const [markers, setMarkers] = useState<(string | undefined)[]>([undefined]);
  return {
    marker: markers[markers.length - 1],
    page: markers.length,
    back: () => setMarkers((m) => (m.length > 1 ? m.slice(0, -1) : m)),
    forward: (next: string) => setMarkers((m) => [...m, next]),
    reset: () => setMarkers([undefined]),
  };
}

export function Pager(props: { label: string; page: number; next?: string; loading: boolean; onBack: () => void; onForward: (next: string) => void }) {
  const { next } = props;
  return (
    <div class="pager" role="group" aria-label={`${props.label} pages`}>
      <button type="button" disabled={props.page < 2 || props.loading} onClick={props.onBack}>
        Previous page<span class="sr"> of {props.label}</span>
      </button>
      <span>Page {props.page}</span>
      <button type="button" disabled={!next || props.loading} onClick={() => next && props.onForward(next)}>
        Next page<span class="sr"> of {props.label}</span>
      </button>
    </div>
  );
}

/** What a list call hands back, in the shape `usePagedList` takes. */
export interface ListPage<T> {
  items?: T[];
  next?: string;
}

/**
 * One page of a list: loaded again when `marker` or anything in `deps` changes, or after
 * `changed` (which also says what changed). An answer that arrives after the page moved on is
 * dropped, so a slow call never overwrites a newer one.
 */
export function usePagedList<T>(load: (marker: string | undefined) => Promise<ListPage<T>>, marker: string | undefined, deps: unknown[] = []) {
  const [items, setItems] = useState<T[]>([]);
  const [next, setNext] = useState<string | undefined>();
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState("");
  const [status, setStatus] = useState("");
  const [reload, setReload] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    setError("");
    load(marker)
      .then((r) => {
        if (!live) return;
        setItems(r.items ?? []);
        setNext(r.next);
      })
      .catch((e) => live && setError(describe(e)))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
    // `load` is a new closure each render: what it reads is in `deps`.
  }, [marker, reload, ...deps]);
  const changed = (msg: string) => {
    setStatus(msg);
    setReload((n) => n + 1);
  };
  return { items, next, loading, error, status, reload, changed };
}
