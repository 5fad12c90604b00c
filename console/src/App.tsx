import { Component, Suspense, useCallback, useEffect, useMemo, useState, type ReactNode } from "react";
import { ApiError, get, post, setCsrf, whenSignedOut } from "./api";
import { Loading } from "./components/ui";
import { Login, Setup } from "./Login";
import { PAGES, preloadPage } from "./pages";
import { Link, match, navigate, useLocation } from "./router";
import { SessionContext, type Session, type User } from "./session";

interface Me {
  user: User & { permissions: string[] };
  csrfToken: string;
}

type State =
  | { kind: "loading" }
  | { kind: "setup" }
  | { kind: "login" }
  | { kind: "failed"; error: string }
  | { kind: "in"; me: Me };

export function App() {
  const [state, setState] = useState<State>({ kind: "loading" });

  const load = useCallback(async () => {
    try {
      // The page's chunk loads while the session is checked; it renders once both are in.
      const chunk = preloadPage(location.pathname, match);
      const me = await get<Me>("/api/v1/auth/me");
      await chunk;
      setCsrf(me.csrfToken);
      setState({ kind: "in", me });
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401) {
        setState({ kind: "failed", error: error instanceof Error ? error.message : String(error) });
        return;
      }
      const setup = await get<{ needed: boolean }>("/api/v1/setup").catch(() => ({ needed: false }));
      setState({ kind: setup.needed ? "setup" : "login" });
    }
  }, []);

  useEffect(() => {
    whenSignedOut(() => setState({ kind: "login" }));
    void load();
  }, [load]);

  if (state.kind === "loading") return <Loading what="Starting the console" />;
  if (state.kind === "failed")
    return (
      <main className="centered">
        <p className="error" role="alert">
          {state.error}
        </p>
      </main>
    );
  if (state.kind === "setup") return <Setup onDone={load} />;
  if (state.kind === "login") return <Login onDone={load} />;
  return <Console me={state.me} onSignedOut={() => setState({ kind: "login" })} />;
}

function Console({ me, onSignedOut }: { me: Me; onSignedOut: () => void }) {
  const { path } = useLocation();
  const session: Session = useMemo(
    () => ({
      user: me.user,
      permissions: new Set(me.user.permissions),
      signOut: async () => {
        await post("/api/v1/auth/logout").catch(() => undefined);
        onSignedOut();
        navigate("/", true);
      },
    }),
    [me, onSignedOut],
  );
  const visible = PAGES.filter((p) => p.permission === null || session.permissions.has(p.permission));
  let found: { entry: (typeof PAGES)[number]; params: Record<string, string> } | null = null;
  for (const entry of PAGES) {
    const params = match(entry.path, path);
    if (params) {
      found = { entry, params };
      break;
    }
  }
  useEffect(() => {
    document.title = found ? `${found.entry.title} · Seamline` : "Seamline";
  }, [found]);
  const section = "/" + (path.split("/")[1] ?? "");
  return (
    <SessionContext.Provider value={session}>
      <div className="shell">
        <nav className="sidebar" aria-label="Main">
          <Link to="/" className="brand">
            Seamline
          </Link>
          <ul>
            {visible
              .filter((p) => p.nav)
              .map((p) => (
                <li key={p.path}>
                  <Link
                    to={p.path}
                    aria-current={section === p.path || (p.path === "/" && path === "/") ? "page" : undefined}
                  >
                    {p.title}
                  </Link>
                </li>
              ))}
          </ul>
          <div className="who">
            <span title={me.user.roles.join(", ")}>{me.user.email}</span>
            <button type="button" className="button secondary" onClick={() => void session.signOut()}>
              Sign out
            </button>
          </div>
        </nav>
        <main className="content" id="content">
          <PageFailed key={path}>
          <Suspense fallback={<Loading />}>
            {found === null ? (
              <NotFound />
            ) : found.entry.permission !== null && !session.permissions.has(found.entry.permission) ? (
              <p className="error" role="alert">
                Your roles ({me.user.roles.join(", ") || "none"}) do not include this page.
              </p>
            ) : (
              <found.entry.component key={found.entry.path} params={found.params} />
            )}
          </Suspense>
          </PageFailed>
        </main>
      </div>
    </SessionContext.Provider>
  );
}

function NotFound() {
  return (
    <section className="page">
      <h1>Not found</h1>
      <p>
        This page does not exist. <Link to="/">Back to the overview</Link>.
      </p>
    </section>
  );
}

/** A page that cannot load (its chunk is gone after Seamline was updated, or it threw) says so
 * instead of blanking the console. */
class PageFailed extends Component<{ children: ReactNode }, { error: Error | null }> {
  state = { error: null as Error | null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  render() {
    if (this.state.error === null) return this.props.children;
    return (
      <section className="page">
        <h1 id="page-title">This page could not load</h1>
        <p className="error" role="alert">
          {this.state.error.message}
        </p>
        <p>
          If Seamline was just updated, <a href={location.href}>reload the page</a>.
        </p>
      </section>
    );
  }
}
