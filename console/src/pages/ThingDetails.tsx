// A thing's relations, read when its details are opened: DescribeThing (billing group),
// ListThingGroupsForThing and ListThingPrincipals (attached certificates and other
// principals), each a signed call of its own, loaded together. Changed here too: thing groups
// (AddThingToThingGroup/RemoveThingFromThingGroup), the billing group
// (AddThingToBillingGroup/RemoveThingFromBillingGroup) and principals (DetachThingPrincipal),
// then read again, so what is shown is what the server holds.

import { useEffect, useState } from "preact/hooks";
import { Api, describe, seg } from "../api";
import { href, onLinkClick } from "../router";
import { useAction } from "../useAction";
import { Feedback } from "./Feedback";

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
  const { busy, status, error: actionError, run, reload } = useAction();
  const [group, setGroup] = useState("");
  const [billing, setBilling] = useState("");
  const id = `thing-${name}`;

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
  }, [api, name, reload]);

  if (error) return <Feedback error={error} />;
  if (!details) return <p role="status">Loading details…</p>;
  const groupBody = (g: string) => ({ thingGroupName: g, thingName: name });
  return (
    <div role="region" aria-label={`Details of ${name}`}>
      <dl class="details">
        <dt>ARN</dt>
        <dd>
          <code>{details.thingArn}</code>
        </dd>
        <dt>Thing ID</dt>
        <dd>
          <code>{details.thingId}</code>
        </dd>
        <dt>Shadows</dt>
        <dd>
          <a href={href(`/shadows/${seg(name)}`)} onClick={(e) => onLinkClick(e as unknown as MouseEvent, `/shadows/${seg(name)}`)}>
            Shadows of {name}
          </a>
        </dd>
        <dt>Billing group</dt>
        <dd>
          {details.billingGroupName ?? "—"}{" "}
          {details.billingGroupName ? (
            <button
              type="button"
              disabled={busy}
              onClick={() =>
                run(
                  () => api.call("PUT", "/billing-groups/removeThingFromBillingGroup", { body: { billingGroupName: details.billingGroupName, thingName: name } }),
                  `Removed ${name} from billing group ${details.billingGroupName}.`,
                )
              }
            >
              Remove from billing group<span class="sr"> {details.billingGroupName}</span>
            </button>
          ) : null}
        </dd>
        <dt>Thing groups</dt>
        <dd>
          <ul class="attrs" aria-label={`Thing groups of ${name}`}>
            {details.groups.length === 0 ? <li>—</li> : null}
            {details.groups.map((g) => (
              <li key={g}>
                {g}{" "}
                <button
                  type="button"
                  disabled={busy}
                  onClick={() => run(() => api.call("PUT", "/thing-groups/removeThingFromThingGroup", { body: groupBody(g) }), `Removed ${name} from group ${g}.`)}
                >
                  Remove<span class="sr"> from group {g}</span>
                </button>
              </li>
            ))}
          </ul>
        </dd>
        <dt>Principals (certificates)</dt>
        <dd>
          {details.principals.length ? (
            <ul class="attrs" aria-label={`Principals of ${name}`}>
              {details.principals.map((p) => (
                <li key={p}>
                  <code>{p}</code>{" "}
                  <button
                    type="button"
                    disabled={busy}
                    onClick={() => run(() => api.call("DELETE", `/things/${seg(name)}/principals`, { headers: { "x-amzn-principal": p } }), `Detached ${p}.`)}
                  >
                    Detach<span class="sr"> principal {p}</span>
                  </button>
                </li>
              ))}
            </ul>
          ) : (
            "—"
          )}
        </dd>
      </dl>
      <div class="filters">
        <form
          class="filters"
          aria-label={`Add ${name} to a thing group`}
          onSubmit={async (e) => {
            e.preventDefault();
            const g = group.trim();
            if (g && (await run(() => api.call("PUT", "/thing-groups/addThingToThingGroup", { body: groupBody(g) }), `Added ${name} to group ${g}.`))) setGroup("");
          }}
        >
          <div class="field">
            <label for={`${id}-group`}>Thing group name</label>
            <input id={`${id}-group`} required value={group} onInput={(e) => setGroup(e.currentTarget.value)} />
          </div>
          <button type="submit" disabled={busy}>
            Add to group
          </button>
        </form>
        <form
          class="filters"
          aria-label={`Set the billing group of ${name}`}
          onSubmit={async (e) => {
            e.preventDefault();
            const b = billing.trim();
            if (
              b &&
              (await run(
                () => api.call("PUT", "/billing-groups/addThingToBillingGroup", { body: { billingGroupName: b, thingName: name } }),
                `Added ${name} to billing group ${b}.`,
              ))
            )
              setBilling("");
          }}
        >
          <div class="field">
            <label for={`${id}-billing`}>Billing group name</label>
            <input id={`${id}-billing`} required value={billing} onInput={(e) => setBilling(e.currentTarget.value)} />
          </div>
          <button type="submit" disabled={busy}>
            Set billing group
          </button>
        </form>
      </div>
      <Feedback status={status} error={actionError} />
    </div>
  );
}
