// How the pages show the APIs' values.

/** API dates are epoch seconds. */
export const when = (secs?: number) => (secs ? new Date(secs * 1000).toLocaleString() : "—");
