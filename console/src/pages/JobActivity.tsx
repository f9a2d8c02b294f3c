// The dashboard's job activity: the node keeps no job counters on /metrics, so this asks the
// jobs API itself — the jobs in progress (ListJobs) and where each one's executions stand
// (DescribeJob's jobProcessDetails) — on a slower timer than the metrics, as it costs a call
// per job.

import { useState } from "preact/hooks";
import { Api, describe, seg } from "../api";
import { Feedback } from "./Feedback";
import { usePolling } from "../poll";

const POLL_MS = 3_000;
/** Jobs shown; the oldest in progress beyond it are left out (and said so). */
const MAX_JOBS = 10;

interface Details {
  numberOfQueuedThings?: number;
  numberOfInProgressThings?: number;
  numberOfSucceededThings?: number;
  numberOfFailedThings?: number;
  numberOfRejectedThings?: number;
  numberOfTimedOutThings?: number;
  numberOfCanceledThings?: number;
}

interface Row {
  jobId: string;
  details: Details;
}

const n = (v: number | undefined) => (v ?? 0).toLocaleString("en-US");

export function JobActivity({ api }: { api: Api }) {
  const [rows, setRows] = useState<Row[] | null>(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState("");

  usePolling(
    async (alive) => {
      try {
        const list = await api.call<{ jobs?: { jobId: string }[]; nextToken?: string }>("GET", "/jobs", {
          query: { status: "IN_PROGRESS", maxResults: MAX_JOBS },
        });
        const jobs = list.jobs ?? [];
        const described = await Promise.all(
          jobs.map((j) => api.call<{ job?: { jobProcessDetails?: Details } }>("GET", `/jobs/${seg(j.jobId)}`)),
        );
        if (!alive()) return;
        setRows(jobs.map((j, i) => ({ jobId: j.jobId, details: described[i].job?.jobProcessDetails ?? {} })));
        setMore(!!list.nextToken);
        setError("");
      } catch (e) {
        if (alive()) setError(`Could not read the jobs: ${describe(e)}`);
      }
    },
    POLL_MS,
    [api],
  );

  return (
    <>
      <h2>Job activity</h2>
      <Feedback error={error} />
      {rows === null ? null : rows.length === 0 ? (
        <p class="hint">No job is in progress.</p>
      ) : (
        <table class="list" aria-label="Jobs in progress">
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">Queued</th>
              <th scope="col">In progress</th>
              <th scope="col">Succeeded</th>
              <th scope="col">Failed, rejected or timed out</th>
              <th scope="col">Canceled</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(({ jobId, details: d }) => (
              <tr key={jobId} data-job={jobId}>
                <th scope="row">{jobId}</th>
                <td>{n(d.numberOfQueuedThings)}</td>
                <td>{n(d.numberOfInProgressThings)}</td>
                <td>{n(d.numberOfSucceededThings)}</td>
                <td>{n((d.numberOfFailedThings ?? 0) + (d.numberOfRejectedThings ?? 0) + (d.numberOfTimedOutThings ?? 0))}</td>
                <td>{n(d.numberOfCanceledThings)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {more ? <p class="hint">The first {MAX_JOBS} jobs in progress.</p> : null}
    </>
  );
}
