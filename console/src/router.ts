// Client-side routes under the page's base (/console/): the server answers every such path
// with index.html, so a reload or a shared link opens the same page.

import { useEffect, useState } from "preact/hooks";

const BASE = import.meta.env.BASE_URL.replace(/\/$/, "");

/** The route inside the console, e.g. "/things". */
export function currentRoute(): string {
  const p = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : location.pathname;
  return p === "" || p === "/" ? "/" : p.replace(/\/$/, "");
}

export function href(route: string): string {
  return BASE + route;
}

export function navigate(route: string): void {
  history.pushState(null, "", href(route));
  dispatchEvent(new PopStateEvent("popstate"));
}

export function useRoute(): string {
  const [route, setRoute] = useState(currentRoute());
  useEffect(() => {
    const on = () => setRoute(currentRoute());
    addEventListener("popstate", on);
    return () => removeEventListener("popstate", on);
  }, []);
  return route;
}

/** A link that routes in the page instead of reloading it. */
export function onLinkClick(e: MouseEvent, route: string): void {
  if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(route);
}
