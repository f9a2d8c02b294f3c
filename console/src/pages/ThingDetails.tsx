// A thing's relations, read when its details are opened: DescribeThing (billing group),
// ListThingGroupsForThing and ListThingPrincipals (attached certificates and other
// principals), each a signed call of its own, loaded together.

import { useEffect, useState } from "preact/hooks";
import { Api, describe, seg } from "../api";

interface Details {
  billingGroupName?: string;
  thingArn?: string;
  thingId?: string;
  groups: string[];
  principals: string[];
}

export function ThingDetails({ api, name }: { api: Api; name: string }) {
  const [details, setDetails] = useState<Details | null>(null);
  const [error, setError] = useState("");

  useEffect(() => {
    let live = true;
    const path = `/things/${seg(name)}`;
    Promise.all([
      api.call<{ billingGroupName?: string; thingArn?: string; thingId?: string }>("GET", path),
      api.call<{ thingGroups?: { groupName: string }[] }>("GET", `${path}/thing-groups`, { query: { maxResults: 250 } }),
      api.call<{ principals?: string[] }>("GET", `${path}/principals`, { query: { maxResults: 250 } }),
    ])
      .then(([thing, groups, principals]) => {
        if (!live) return;
        setDetails({
          billingGroupName: thing.billingGroupName,
          thingArn: thing.thingArn,
          thingId: thing.thingId,
          groups: (groups.thingGroups ?? []).map((g) => g.groupName),
          principals: principals.principals ?? [],
        });
      })
      .catch((e) => live && setError(describe(e)));
    return () => {
      live = false;
    };
  }, [api, name]);

  if (error) {
    return (
      <p class="error" role="alert">
        {error}
      </p>
    );
  }
  if (!details) return <p role="status">Loading details…</p>;
  return (
    <dl class="details" aria-label={`Details of ${name}`}>
      <dt>ARN</dt>
      <dd>
        <code>{details.thingArn}</code>
      </dd>
      <dt>Thing ID</dt>
      <dd>
        <code>{details.thingId}</code>
      </dd>
      <dt>Billing group</dt>
      <dd>{details.billingGroupName ?? "—"}</dd>
      <dt>Thing groups</dt>
      <dd>{details.groups.length ? details.groups.join(", ") : "—"}</dd>
      <dt>Principals (certificates)</dt>
      <dd>
        {details.principals.length ? (
          <ul class="attrs">
            {details.principals.map((p) => (
              <li key={p}>
                <code>{p}</code>
              </li>
            ))}
          </ul>
        ) : (
          "—"
        )}
      </dd>
    </dl>
  );
}
