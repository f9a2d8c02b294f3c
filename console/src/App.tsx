// The console's shell: sign-in until keys are given, then the navigation and one page.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { Api } from "./api";
import { clearCredentials, loadCredentials, loadSettings, saveCredentials, type Credentials, type Settings } from "./session";
import { href, onLinkClick, useRoute } from "./router";
import { SignIn } from "./pages/SignIn";
import { Things } from "./pages/Things";
import { MqttClient } from "./pages/MqttClient";
import { Shadows } from "./pages/Shadows";
import { Certificates } from "./pages/Certificates";
import { Dashboard } from "./pages/Dashboard";
import { Provisioning } from "./pages/Provisioning";
import { Rules } from "./pages/Rules";
import { Jobs } from "./pages/Jobs";
import { Policies } from "./pages/Policies";
import { NotBuilt } from "./pages/NotBuilt";

interface Page {
  route: string;
  title: string;
  /** What the issue asks of the page, shown while it is not built yet. */
  planned?: string;
}

export const PAGES: Page[] = [
  { route: "/dashboard", title: "Dashboard" },
  { route: "/things", title: "Things" },
  { route: "/shadows", title: "Shadows" },
  { route: "/certificates", title: "Certificates and CAs" },
  { route: "/policies", title: "Policies" },
  { route: "/mqtt", title: "MQTT test client" },
  { route: "/rules", title: "Rules" },
  { route: "/jobs", title: "Jobs" },
  { route: "/provisioning", title: "Provisioning templates" },
];

export function App() {
  const [creds, setCreds] = useState<Credentials | null>(loadCredentials());
  const [settings, setSettings] = useState<Settings | null>(null);
  const route = useRoute();
  useEffect(() => {
    loadSettings().then(setSettings);
  }, []);
  const api = useMemo(() => (creds ? new Api(creds) : null), [creds]);
  // After moving to another page, focus its content, so keyboard and screen-reader users
  // land on what changed rather than staying in the navigation (not on the first render).
  const main = useRef<HTMLElement>(null);
  const firstRoute = useRef(true);
  useEffect(() => {
    if (firstRoute.current) {
      firstRoute.current = false;
      return;
    }
    main.current?.focus();
  }, [route]);

  if (!creds || !api) {
    return (
      <SignIn
        defaultRegion={settings?.region ?? ""}
        onSignIn={(c) => {
          saveCredentials(c);
          setCreds(c);
        }}
      />
    );
  }
  const page = PAGES.find((p) => route === p.route || route.startsWith(p.route + "/")) ?? PAGES[1];
  return (
    <div class="shell">
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <span class="brand">Ferrite console</span>
        <span class="who">
          {creds.accessKeyId} · {creds.region}
        </span>
        <button
          type="button"
          onClick={() => {
            clearCredentials();
            setCreds(null);
          }}
        >
          Sign out
        </button>
      </header>
      <nav class="side" aria-label="Console pages">
        <ul>
          {PAGES.map((p) => (
            <li key={p.route}>
              <a
                href={href(p.route)}
                aria-current={p === page ? "page" : undefined}
                onClick={(e) => onLinkClick(e as unknown as MouseEvent, p.route)}
              >
                {p.title}
                {p.planned ? <span class="soon"> (not built yet)</span> : null}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1} ref={main}>
        {page.route === "/dashboard" ? (
          <Dashboard api={api} />
        ) : page.route === "/things" ? (
          <Things api={api} />
        ) : page.route === "/shadows" ? (
          <Shadows api={api} settings={settings} route={route} />
        ) : page.route === "/certificates" ? (
          <Certificates api={api} />
        ) : page.route === "/provisioning" ? (
          <Provisioning api={api} />
        ) : page.route === "/rules" ? (
          <Rules api={api} />
        ) : page.route === "/jobs" ? (
          <Jobs api={api} />
        ) : page.route === "/policies" ? (
          <Policies api={api} />
        ) : page.route === "/mqtt" ? (
          <MqttClient api={api} settings={settings} />
        ) : (
          <NotBuilt title={page.title} planned={page.planned ?? ""} />
        )}
      </main>
    </div>
  );
}
