// Paging for the list calls that hand back a marker or next token (ListCertificates,
// ListTopicRules, ListJobs, ListProvisioningTemplates and their versions, ...): the markers of
// the pages before this one are kept so "Previous" can go back.

import { useState } from "preact/hooks";

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
