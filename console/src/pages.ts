// The console's pages: the path, the nav entry, and the permission that shows it. Each page is
// its own chunk, so the first page loads only what it needs.
import { createElement, use, type ComponentType } from "react";

export type PageProps = { params: Record<string, string> };

export interface PageEntry {
  path: string;
  title: string;
  nav: boolean;
  permission: string | null;
  component: ComponentType<PageProps>;
}

type Loader = () => Promise<{ default: ComponentType<PageProps> }>;
const starters = new Map<ComponentType<PageProps>, () => Promise<unknown>>();

/** A page in its own chunk. Unlike React.lazy, a chunk loaded already (preloadPage) renders at
 * once: React.lazy suspends on its first render even then, and React holds a suspended
 * page back for its 300 ms reveal throttle, a third of the first page's budget. */
const page = (load: Loader): ComponentType<PageProps> => {
  let loaded: ComponentType<PageProps> | null = null;
  let loading: Promise<ComponentType<PageProps>> | null = null;
  const start = () =>
    (loading ??= load().then((module) => {
      loaded = module.default;
      return loaded;
    }));
  const Page = (props: PageProps) => createElement(loaded ?? use(start()), props);
  starters.set(Page, start);
  return Page;
};

const overview = page(() => import("./pages/Overview"));
const sources = page(() => import("./pages/Sources"));
const source = page(() => import("./pages/Source"));
const debuggerPage = page(() => import("./pages/Debugger"));
const trace = page(() => import("./pages/Trace"));
const protocols = page(() => import("./pages/Protocols"));
const privacy = page(() => import("./pages/Privacy"));
const profiles = page(() => import("./pages/Profiles"));
const profile = page(() => import("./pages/Profile"));
const identity = page(() => import("./pages/Identity"));
const engage = page(() => import("./pages/Engage"));
const destinations = page(() => import("./pages/Destinations"));
const destination = page(() => import("./pages/Destination"));
const settings = page(() => import("./pages/Settings"));

export const PAGES: PageEntry[] = [
  { path: "/", title: "Overview", nav: true, permission: null, component: overview },
  { path: "/sources", title: "Sources", nav: true, permission: "sources:read", component: sources },
  { path: "/sources/:id", title: "Source", nav: false, permission: "sources:read", component: source },
  { path: "/debugger", title: "Live debugger", nav: true, permission: "sources:read", component: debuggerPage },
  { path: "/messages/:id", title: "Message trace", nav: false, permission: "profiles:read", component: trace },
  { path: "/protocols", title: "Protocols", nav: true, permission: "violations:read", component: protocols },
  { path: "/privacy", title: "Privacy", nav: true, permission: "privacy:read", component: privacy },
  { path: "/profiles", title: "Profiles", nav: true, permission: "profiles:read", component: profiles },
  { path: "/profiles/:id", title: "Profile", nav: false, permission: "profiles:read", component: profile },
  { path: "/identity", title: "Identity", nav: true, permission: "profiles:read", component: identity },
  { path: "/engage", title: "Engage", nav: true, permission: "engage:read", component: engage },
  { path: "/destinations", title: "Destinations", nav: true, permission: "destinations:read", component: destinations },
  { path: "/destinations/:name", title: "Destination", nav: false, permission: "destinations:read", component: destination },
  { path: "/settings", title: "Settings", nav: true, permission: null, component: settings },
];

/** Start fetching the chunk of the page at `path` now, while the session is still being checked;
 * resolves once it is loaded (or failed: the page then shows the error when it renders). */
export function preloadPage(
  path: string,
  match: (pattern: string, path: string) => unknown,
): Promise<unknown> {
  const entry = PAGES.find((candidate) => match(candidate.path, path));
  const start = entry ? starters.get(entry.component) : undefined;
  return start ? start().catch(() => undefined) : Promise.resolve();
}
