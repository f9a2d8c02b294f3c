// The outcome of what the page did: a polite status line (left out when there is none to show,
// e.g. a form that only reports errors) and the error as an alert.

export function Feedback({ status, error }: { status?: string; error?: string }) {
  return (
    <>
      {status !== undefined ? (
        <p class="status" role="status" aria-live="polite">
          {status}
        </p>
      ) : null}
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
    </>
  );
}
