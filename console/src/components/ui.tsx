// The few building blocks every page shares.
import { useState, type ReactNode } from "react";
import { ApiError } from "../api";

export function Page({ title, actions, children }: { title: string; actions?: ReactNode; children: ReactNode }) {
  return (
    <section className="page" aria-labelledby="page-title">
      <header className="page-header">
        <h1 id="page-title">{title}</h1>
        {actions ? <div className="page-actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}

export function Card({ title, children, actions }: { title?: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <section className="card">
      {title || actions ? (
        <header className="card-header">
          {title ? <h2>{title}</h2> : <span />}
          {actions}
        </header>
      ) : null}
      {children}
    </section>
  );
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  const text =
    error instanceof ApiError ? `${error.message} (${error.code})` : String((error as Error).message ?? error);
  return (
    <p className="error" role="alert">
      {text}
    </p>
  );
}

export function Loading({ what = "Loading" }: { what?: string }) {
  return <p className="muted" aria-busy="true">{what}…</p>;
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="muted empty">{children}</p>;
}

/** A button that runs `action`, shows that it is busy, and shows its error beside it. */
export function ActionButton({
  action,
  children,
  kind = "primary",
  confirm,
  ...rest
}: {
  action: () => Promise<unknown>;
  children: ReactNode;
  kind?: "primary" | "secondary" | "danger";
  confirm?: string;
} & Omit<React.ButtonHTMLAttributes<HTMLButtonElement>, "onClick">) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  return (
    <span className="action">
      <button
        type="button"
        className={`button ${kind}`}
        disabled={busy || rest.disabled}
        {...rest}
        onClick={async () => {
          if (confirm && !window.confirm(confirm)) return;
          setBusy(true);
          setError(null);
          try {
            await action();
          } catch (failed) {
            setError(failed);
          } finally {
            setBusy(false);
          }
        }}
      >
        {busy ? "Working…" : children}
      </button>
      <ErrorNote error={error} />
    </span>
  );
}

export function Json({ value }: { value: unknown }) {
  // Focusable, so a keyboard can scroll a long message (axe: scrollable-region-focusable).
  return (
    <pre className="json" tabIndex={0}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

export function Time({ at }: { at: string | number | null | undefined }) {
  if (at === null || at === undefined || at === "") return <span className="muted">—</span>;
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) return <span>{String(at)}</span>;
  return <time dateTime={date.toISOString()}>{date.toLocaleString()}</time>;
}

export function Badge({ tone = "neutral", children }: { tone?: "good" | "bad" | "warn" | "neutral"; children: ReactNode }) {
  return <span className={`badge ${tone}`}>{children}</span>;
}

export function Tabs<T extends string>({
  tabs,
  current,
  onChange,
  label,
}: {
  tabs: readonly { id: T; label: string }[];
  current: T;
  onChange: (id: T) => void;
  label: string;
}) {
  return (
    <div className="tabs" role="tablist" aria-label={label}>
      {tabs.map((tab) => (
        <button
          key={tab.id}
          type="button"
          role="tab"
          aria-selected={tab.id === current}
          className={tab.id === current ? "tab current" : "tab"}
          onClick={() => onChange(tab.id)}
        >
          {tab.label}
        </button>
      ))}
    </div>
  );
}
