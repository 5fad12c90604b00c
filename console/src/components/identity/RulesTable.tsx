// The identity rules in force, as a table a marketer reads: which identifiers join a person,
// in what order they are trusted, how many a profile may hold, and what is never an identifier.
import { Badge, Card, Empty, Time } from "../ui";
import {
  blockedValues,
  effectiveTypes,
  limitWords,
  percent,
  windowWords,
  type RulesDocument,
  type RulesState,
} from "./model";

export function Explanation() {
  return (
    <ul className="muted small explain">
      <li>
        <strong>Priority</strong>: 1 is the most trusted. When a message would give a profile more identifiers than
        allowed, the least trusted (highest number) are left out first.
      </li>
      <li>
        <strong>Limit</strong>: how many different values of a type one profile may hold (a person has one user ID, a
        few emails); within a <strong>window</strong>, only values seen that recently count.
      </li>
    </ul>
  );
}

export function RulesInForce({ state }: { state: RulesState }) {
  const document: RulesDocument = state.active?.document ?? state.defaults;
  const rows = effectiveTypes(document, state.defaults);
  const blocked = blockedValues(document, state.defaults);
  const matching = document.matching as { enabled?: boolean; threshold?: number; review_threshold?: number } | undefined;
  return (
    <Card title="Rules in force">
      <p className="small" data-testid="rules-version">
        {state.active ? (
          <>
            Version <strong>{state.active.version}</strong>, active since <Time at={state.active.activated_at} />
            {state.active.created_by ? <> (by {state.active.created_by})</> : null}.
          </>
        ) : (
          "Seamline's default rules: this workspace has not changed them."
        )}
      </p>
      <Explanation />
      <table aria-label="Identifier types">
        <thead>
          <tr>
            <th scope="col">Identifier type</th>
            <th scope="col">Priority</th>
            <th scope="col">Limit per profile</th>
            <th scope="col">Counted over</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.name}>
              <th scope="row" className="mono">
                {row.name} {row.custom ? <Badge>custom</Badge> : null} {row.changed ? <Badge tone="warn">changed</Badge> : null}
              </th>
              <td>{Number.isNaN(row.priority) ? "after the built-in types" : row.priority}</td>
              <td>{limitWords(row.limit)}</td>
              <td>{windowWords(row.window_seconds)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="grid">
        <section aria-labelledby="blocked-title">
          <h3 id="blocked-title">Never identifiers</h3>
          <p className="muted small">Values ignored wherever they appear (upper or lower case alike).</p>
          {blocked.length === 0 ? (
            <Empty>No blocked values.</Empty>
          ) : (
            <ul className="chips" aria-label="Blocked values">
              {blocked.map((value) => (
                <li key={value} className="mono">
                  {value === "" ? "(empty)" : value}
                </li>
              ))}
            </ul>
          )}
          {(document.blocked_patterns ?? []).length > 0 ? (
            <>
              <p className="muted small">And every value that matches one of these patterns (regular expressions):</p>
              <ul className="chips" aria-label="Blocked patterns">
                {(document.blocked_patterns ?? []).map((p) => (
                  <li key={p} className="mono">
                    {p}
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </section>
        <section aria-labelledby="custom-title">
          <h3 id="custom-title">Custom identifier types</h3>
          <p className="muted small">Identifiers read from a field of every message.</p>
          {(document.custom ?? []).length === 0 ? (
            <Empty>None: only the built-in identifiers are read.</Empty>
          ) : (
            <table aria-label="Custom identifier types">
              <thead>
                <tr>
                  <th scope="col">Type</th>
                  <th scope="col">Read from</th>
                </tr>
              </thead>
              <tbody>
                {(document.custom ?? []).map((c) => (
                  <tr key={c.name}>
                    <th scope="row" className="mono">
                      {c.name}
                    </th>
                    <td className="mono">{c.path}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      </div>
      {matching ? (
        <p className="small" data-testid="matching-summary">
          <strong>Probabilistic matching</strong>:{" "}
          {matching.enabled
            ? `on — profiles alike with at least ${percent(matching.threshold ?? 1)} probability merge by themselves; from ${percent(matching.review_threshold ?? 1)} they wait for review.`
            : "off (only identical identifiers join profiles)."}
        </p>
      ) : null}
    </Card>
  );
}
