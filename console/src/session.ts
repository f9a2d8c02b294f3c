// The signed-in account: access keys and region, kept in sessionStorage so they last as
// long as the tab and are never written to disk by the page.

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** Where the APIs are: the page's own origin (Ferrite serves both). */
  endpoint: string;
}

const KEY = "ferrite-console-credentials";

export function loadCredentials(): Credentials | null {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  try {
    const c = JSON.parse(raw) as Credentials;
    return c.accessKeyId && c.secretAccessKey && c.region ? c : null;
  } catch {
    return null;
  }
}

export function saveCredentials(c: Credentials): void {
  sessionStorage.setItem(KEY, JSON.stringify(c));
}

export function clearCredentials(): void {
  sessionStorage.removeItem(KEY);
}

/** What the server tells the page (`/console/settings.json`): nothing secret. */
export interface Settings {
  region: string;
  mqtt_ws_port: number | null;
  mqtt_wss_port: number | null;
}

export async function loadSettings(): Promise<Settings> {
  const fallback: Settings = { region: "us-east-1", mqtt_ws_port: null, mqtt_wss_port: null };
  try {
    const r = await fetch(`${import.meta.env.BASE_URL}settings.json`);
    return r.ok ? { ...fallback, ...((await r.json()) as Partial<Settings>) } : fallback;
  } catch {
    return fallback;
  }
}
