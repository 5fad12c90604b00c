// Sign-in, and the one-time page that creates the workspace's first owner.
import { useState, type FormEvent } from "react";
import { ApiError, post } from "./api";

/** A form's submit: busy while `send` runs, its error (the server's message) shown after. */
function useSubmit(send: (form: FormData) => Promise<string | void>, onDone: () => void) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setBusy(true);
    setError("");
    try {
      const refused = await send(new FormData(event.currentTarget));
      if (refused) setError(refused);
      else onDone();
    } catch (failed) {
      setError(failed instanceof ApiError ? failed.message : String(failed));
    } finally {
      setBusy(false);
    }
  }
  return { error, busy, submit };
}

export function Login({ onDone }: { onDone: () => void }) {
  const { error, busy, submit } = useSubmit(async (form) => {
    await post("/api/v1/auth/login", { email: form.get("email"), password: form.get("password") });
  }, onDone);
  return (
    <main className="centered">
      <form className="card login" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Sign in to Seamline</h1>
        <label>
          Email
          <input name="email" type="email" autoComplete="email" required autoFocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" required />
        </label>
        {error ? (
          <p className="error" role="alert">
            {error}
          </p>
        ) : null}
        <button className="button primary" type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        <p className="muted small">
          No account? A workspace owner adds you in Settings, or on the server: <code>seamline users create</code>.
        </p>
      </form>
    </main>
  );
}

export function Setup({ onDone }: { onDone: () => void }) {
  const { error, busy, submit } = useSubmit(async (form) => {
    if (form.get("password") !== form.get("confirm")) return "The two passwords differ.";
    await post("/api/v1/setup/owner", { email: form.get("email"), password: form.get("password") });
  }, onDone);
  return (
    <main className="centered">
      <form className="card login" onSubmit={submit} aria-labelledby="setup-title">
        <h1 id="setup-title">Create the workspace owner</h1>
        <p className="muted">
          Seamline has no users yet. The first one owns the workspace: it can add everyone else. This page works only
          from the machine Seamline runs on, and only once.
        </p>
        <label>
          Email
          <input name="email" type="email" autoComplete="email" required autoFocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="new-password" required minLength={12} />
        </label>
        <label>
          Password again
          <input name="confirm" type="password" autoComplete="new-password" required minLength={12} />
        </label>
        {error ? (
          <p className="error" role="alert">
            {error}
          </p>
        ) : null}
        <button className="button primary" type="submit" disabled={busy}>
          {busy ? "Creating…" : "Create owner and sign in"}
        </button>
      </form>
    </main>
  );
}
