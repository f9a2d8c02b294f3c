// One job: DescribeJob (status, counts of executions per status), its document
// (GetJobDocument) and its executions (ListJobExecutionsForJob, filtered by status, page by
// page), re-read every few seconds while open so devices' progress shows without a reload.

import { useEffect, useState } from "preact/hooks";
import { Api, describe, seg } from "../api";
import { prettyText } from "../json";
import { usePolling } from "../poll";
import { when } from "../format";
import { Pager, useMarkers } from "./Pager";

export interface Job {
  jobId: string;
  status?: string;
  description?: string;
  targets?: string[];
  targetSelection?: string;
  createdAt?: number;
  completedAt?: number;
  reasonCode?: string;
  comment?: string;
  jobProcessDetails?: Record<string, number>;
}

interface ExecutionSummary {
  thingArn: string;
  jobExecutionSummary: { status: string; executionNumber?: number; queuedAt?: number; startedAt?: number; lastUpdatedAt?: number };
}

const REFRESH_MS = 3000;
const EXECUTION_STATUSES = ["QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED", "REMOVED", "CANCELED"];
/** DescribeJob's count for each execution status. */
const COUNTS: Record<string, string> = {
  QUEUED: "numberOfQueuedThings",
  IN_PROGRESS: "numberOfInProgressThings",
  SUCCEEDED: "numberOfSucceededThings",
  FAILED: "numberOfFailedThings",
  TIMED_OUT: "numberOfTimedOutThings",
  REJECTED: "numberOfRejectedThings",
  REMOVED: "numberOfRemovedThings",
  CANCELED: "numberOfCanceledThings",
};
const PAGE_SIZE = 25;

/** The last part of an ARN (`…:thing/lamp` → `lamp`). */
export const arnName = (arn: string) => arn.slice(arn.indexOf("/") + 1);

/** `onJob` hears each DescribeJob read, so the list row shows the status the details do. */
export function JobDetails({ api, jobId, tick, onJob }: { api: Api; jobId: string; tick: number; onJob?: (job: Job) => void }) {
  const [job, setJob] = useState<Job | null>(null);
  const [document, setDocument] = useState<string | null>(null);
  const [status, setStatus] = useState("");
  const pages = useMarkers();
  const [executions, setExecutions] = useState<ExecutionSummary[] | null>(null);
  const [next, setNext] = useState<string | undefined>();
  const [error, setError] = useState("");
  const path = `/jobs/${seg(jobId)}`;

  useEffect(() => {
    let live = true;
    api
      .call<{ document?: string }>("GET", `${path}/job-document`)
      .then((d) => live && setDocument(d.document ?? ""))
      .catch((e) => live && setError(describe(e)));
    return () => {
      live = false;
    };
  }, [api, jobId]);

  // The job and the page of executions shown, read together on every refresh.
  usePolling(
    async (alive) => {
      try {
        const [j, x] = await Promise.all([
          api.call<{ job: Job }>("GET", path),
          api.call<{ executionSummaries?: ExecutionSummary[]; nextToken?: string }>("GET", `${path}/things`, {
            query: { status, maxResults: PAGE_SIZE, nextToken: pages.marker },
          }),
        ]);
        if (!alive()) return;
        setJob(j.job);
        onJob?.(j.job);
        setExecutions(x.executionSummaries ?? []);
        setNext(x.nextToken);
        setError("");
      } catch (e) {
        if (alive()) setError(describe(e));
      }
    },
    REFRESH_MS,
    [api, jobId, status, pages.marker, tick],
  );

  const counts = job?.jobProcessDetails ?? {};
  return (
    <div class="panel" role="region" aria-label={`Job ${jobId}`}>
      <h2>Job {jobId}</h2>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      {job ? (
        <dl class="details">
          <dt>Status</dt>
          <dd data-testid="job-status">{job.status}</dd>
          {job.description ? (
            <>
              <dt>Description</dt>
              <dd>{job.description}</dd>
            </>
          ) : null}
          <dt>Targets</dt>
          <dd>{(job.targets ?? []).map((t) => <code key={t}>{t} </code>)}</dd>
          <dt>Target selection</dt>
          <dd>{job.targetSelection}</dd>
          <dt>Created</dt>
          <dd>{when(job.createdAt)}</dd>
          {job.comment || job.reasonCode ? (
            <>
              <dt>Cancelled because</dt>
              <dd>{[job.reasonCode, job.comment].filter(Boolean).join(": ")}</dd>
            </>
          ) : null}
        </dl>
      ) : (
        <p>Loading…</p>
      )}
      {document !== null ? (
        <details>
          <summary>Job document</summary>
          <pre class="payload json">{prettyText(document)}</pre>
        </details>
      ) : null}
      <h3>Executions</h3>
      <ul class="counts" aria-label={`Executions of ${jobId} per status`}>
        {EXECUTION_STATUSES.map((s) => (
          <li key={s}>
            {s} {counts[COUNTS[s]] ?? 0}
          </li>
        ))}
      </ul>
      <label for={`job-${jobId}-status`}>Show executions</label>
      <select
        id={`job-${jobId}-status`}
        value={status}
        onChange={(e) => {
          setStatus(e.currentTarget.value);
          pages.reset();
        }}
      >
        <option value="">All statuses</option>
        {EXECUTION_STATUSES.map((s) => (
          <option key={s} value={s}>
            {s}
          </option>
        ))}
      </select>
      <table class="list" aria-label={`Executions of ${jobId}`}>
        <thead>
          <tr>
            <th scope="col">Thing</th>
            <th scope="col">Status</th>
            <th scope="col">Execution</th>
            <th scope="col">Last updated</th>
          </tr>
        </thead>
        <tbody>
          {executions?.length === 0 ? (
            <tr>
              <td colSpan={4}>No executions{status ? ` with status ${status}` : ""} on this page.</td>
            </tr>
          ) : null}
          {(executions ?? []).map((x) => (
            <tr key={x.thingArn} data-execution={arnName(x.thingArn)}>
              <th scope="row">{arnName(x.thingArn)}</th>
              <td>{x.jobExecutionSummary.status}</td>
              <td>{x.jobExecutionSummary.executionNumber ?? ""}</td>
              <td>{when(x.jobExecutionSummary.lastUpdatedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager label={`executions of ${jobId}`} page={pages.page} next={next} loading={false} onBack={pages.back} onForward={pages.forward} />
      <p class="hint">Refreshed every few seconds while open.</p>
    </div>
  );
}
