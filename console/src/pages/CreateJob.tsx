// CreateJob: targets picked by name (things and thing groups, resolved to their ARNs with
// DescribeThing/DescribeThingGroup, so a misspelt name is the API's "not found" before
// anything is created), the job document as JSON checked as it is typed, a description and
// the target selection.

import { useState } from "preact/hooks";
import { Api, describe, seg } from "../api";
import { parseJson } from "../json";
import { JsonField } from "./JsonField";

const names = (text: string) =>
  text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);

export function CreateJob({ api, onCreated, onCancel }: { api: Api; onCreated: (jobId: string) => void; onCancel: () => void }) {
  const [jobId, setJobId] = useState("");
  const [things, setThings] = useState("");
  const [groups, setGroups] = useState("");
  const [document, setDocument] = useState("{}");
  const [description, setDescription] = useState("");
  const [selection, setSelection] = useState("SNAPSHOT");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const parsed = parseJson(document, "object", "The job document");

  async function create(e: Event) {
    e.preventDefault();
    if (parsed.error) return;
    const thingNames = names(things);
    const groupNames = names(groups);
    if (thingNames.length + groupNames.length === 0) return setError("Name at least one thing or thing group.");
    setBusy(true);
    setError("");
    try {
      const targets = await Promise.all([
        ...thingNames.map((n) => api.call<{ thingArn: string }>("GET", `/things/${seg(n)}`).then((t) => t.thingArn)),
        ...groupNames.map((n) => api.call<{ thingGroupArn: string }>("GET", `/thing-groups/${seg(n)}`).then((g) => g.thingGroupArn)),
      ]);
      const id = jobId.trim();
      await api.call("PUT", `/jobs/${seg(id)}`, {
        body: {
          targets,
          document: JSON.stringify(parsed.value),
          targetSelection: selection,
          ...(description.trim() ? { description: description.trim() } : {}),
        },
      });
      onCreated(id);
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="panel" aria-label="Create job" onSubmit={create}>
      <h2>Create job</h2>
      <label for="new-job-id">Job ID</label>
      <input id="new-job-id" required pattern="[a-zA-Z0-9_\-]+" value={jobId} onInput={(e) => setJobId(e.currentTarget.value)} />
      <div class="columns">
        <div>
          <label for="new-job-things">Target things (names, one a line)</label>
          <textarea id="new-job-things" rows={3} value={things} onInput={(e) => setThings(e.currentTarget.value)} />
        </div>
        <div>
          <label for="new-job-groups">Target thing groups (names, one a line)</label>
          <textarea id="new-job-groups" rows={3} value={groups} onInput={(e) => setGroups(e.currentTarget.value)} />
        </div>
      </div>
      <JsonField id="new-job-document" label="Job document (JSON)" rows={6} value={document} error={parsed.error} hint="What devices receive and act on." onInput={setDocument} />
      <label for="new-job-description">Description (optional)</label>
      <input id="new-job-description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
      <label for="new-job-selection">Target selection</label>
      <select id="new-job-selection" value={selection} onChange={(e) => setSelection(e.currentTarget.value)} aria-describedby="new-job-selection-help">
        <option value="SNAPSHOT">Snapshot (the targets now)</option>
        <option value="CONTINUOUS">Continuous (also things added to the groups later)</option>
      </select>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <div>
        <button type="submit" disabled={busy || !!parsed.error}>
          Create job
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
