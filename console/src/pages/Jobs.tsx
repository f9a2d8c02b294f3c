// Jobs: ListJobs page by page (nextToken), filtered by status on the server, CreateJob
// (CreateJob.tsx), a job's details and executions followed live (JobDetails.tsx), CancelJob
// and DeleteJob (force, for a job with executions still running, only when asked for).

import { useEffect, useState } from "preact/hooks";
import { Api, seg } from "../api";
import { useAction } from "../useAction";
import { when } from "../format";
import { Confirm } from "./Confirm";
import { CreateJob } from "./CreateJob";
import { Feedback } from "./Feedback";
import { JobDetails, type Job } from "./JobDetails";
import { Pager, useMarkers, usePagedList } from "./Pager";

const PAGE_SIZE = 25;
const JOB_STATUSES = ["IN_PROGRESS", "SCHEDULED", "COMPLETED", "CANCELED", "DELETION_IN_PROGRESS"];

export function Jobs({ api }: { api: Api }) {
  const pages = useMarkers();
  const [filter, setFilter] = useState("");
  const [creating, setCreating] = useState(false);
  const [open, setOpen] = useState<string | null>(null);

  const { items: jobs, next, loading, error, status, reload, changed } = usePagedList(
    (marker) => api.call<{ jobs?: Job[]; nextToken?: string }>("GET", "/jobs", { query: { status: filter, maxResults: PAGE_SIZE, nextToken: marker } }).then((r) => ({ items: r.jobs, next: r.nextToken })),
    pages.marker,
    [api, filter],
  );


  return (
    <section>
      <h1>Jobs</h1>
      {creating ? (
        <CreateJob
          api={api}
          onCreated={(id) => {
            setCreating(false);
            setOpen(id);
            changed(`Created job ${id}.`);
          }}
          onCancel={() => setCreating(false)}
        />
      ) : (
        <button type="button" onClick={() => setCreating(true)}>
          Create job
        </button>
      )}
      <div class="filters">
        <div class="field">
          <label for="jobs-status">Job status</label>
          <select
            id="jobs-status"
            value={filter}
            onChange={(e) => {
              setFilter(e.currentTarget.value);
              pages.reset();
            }}
          >
            <option value="">All</option>
            {JOB_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
      </div>
      <Feedback status={loading ? "Loading…" : status} error={error} />
      <table class="list" aria-label="Jobs" aria-busy={loading}>
        <thead>
          <tr>
            <th scope="col">Job ID</th>
            <th scope="col">Status</th>
            <th scope="col">Target selection</th>
            <th scope="col">Created</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {jobs.length === 0 && !loading ? (
            <tr>
              <td colSpan={5}>No jobs on this page.</td>
            </tr>
          ) : null}
          {jobs.map((j) => (
            <JobRow key={j.jobId} api={api} job={j} open={open === j.jobId} onOpen={(on) => setOpen(on ? j.jobId : null)} onChanged={changed} tick={reload} />
          ))}
        </tbody>
      </table>
      <Pager label="jobs" page={pages.page} next={next} loading={loading} onBack={pages.back} onForward={pages.forward} />
    </section>
  );
}

function JobRow(props: { api: Api; job: Job; open: boolean; tick: number; onOpen: (on: boolean) => void; onChanged: (msg: string) => void }) {
  const { api } = props;
  // The job as the open details last read it: newer than the list until the list reloads.
  const [fresh, setFresh] = useState<Job | null>(null);
  useEffect(() => setFresh(null), [props.job]);
  const j = fresh?.jobId === props.job.jobId ? { ...props.job, status: fresh.status } : props.job;
  const [force, setForce] = useState(false);
  const { busy, error, run } = useAction((message) => {
    setForce(false);
    props.onChanged(message);
  });
  const [comment, setComment] = useState("");
  const path = `/jobs/${seg(j.jobId)}`;
  const running = j.status === "IN_PROGRESS" || j.status === "SCHEDULED";

  const forceBox = (verb: string) => (
    <label class="check">
      <input type="checkbox" checked={force} onChange={(e) => setForce(e.currentTarget.checked)} />
      {verb} executions in progress too (force)
    </label>
  );

  return (
    <>
      <tr data-job={j.jobId}>
        <th scope="row">{j.jobId}</th>
        <td>{j.status}</td>
        <td>{j.targetSelection ?? "—"}</td>
        <td>{when(j.createdAt)}</td>
        <td class="actions">
          <button type="button" aria-expanded={props.open} onClick={() => props.onOpen(!props.open)}>
            Details<span class="sr"> of job {j.jobId}</span>
          </button>
          {running ? (
            <Confirm
              verb="Cancel"
              what={`job ${j.jobId}`}
              busy={busy}
              onConfirm={() => run(() => api.call("PUT", `${path}/cancel`, { query: { force: force || undefined }, body: comment.trim() ? { comment: comment.trim() } : {} }), `Cancelled job ${j.jobId}.`)}
            >
              <label class="sr" for={`cancel-${j.jobId}`}>
                Comment
              </label>
              <input id={`cancel-${j.jobId}`} placeholder="Comment (optional)" value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
              {forceBox("Cancel")}
            </Confirm>
          ) : null}
          <Confirm verb="Delete" what={`job ${j.jobId}`} busy={busy} onConfirm={() => run(() => api.call("DELETE", path, { query: { force: force || undefined } }), `Deleted job ${j.jobId}.`)}>
            {running ? forceBox("Delete with") : null}
          </Confirm>
        </td>
      </tr>
      {props.open || error ? (
        <tr class="detail">
          <td colSpan={5}>
            <Feedback error={error} />
            {props.open ? <JobDetails api={api} jobId={j.jobId} tick={props.tick} onJob={setFresh} /> : null}
          </td>
        </tr>
      ) : null}
    </>
  );
}
