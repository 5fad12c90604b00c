// One arrival of a message in the log, stage by stage in pipeline order (accepted → subscriptions).
import { Time } from "../ui";
import { Link } from "../../router";
import { Facts, Skipped, Stage, valueText } from "./Stage";
import type { Arrival } from "./types";

const plural = (n: number, one: string, many = one + "s") => `${n} ${n === 1 ? one : many}`;

export function ArrivalStages({ arrival }: { arrival: Arrival }) {
  const { accepted, dedup, stopped } = arrival;
  return (
    <>
      <Stage title="Accepted" status={accepted.rerunOf ? "re-run" : "accepted"} tone="good">
        <Facts
          rows={[
            [
              "Source",
              accepted.source.id ? (
                <Link to={`/sources/${encodeURIComponent(accepted.source.id)}`}>
                  {accepted.source.name ?? accepted.source.id}
                </Link>
              ) : (
                "—"
              ),
            ],
            ["Received", <Time at={accepted.receivedAt} />],
            ["Sent by the device", <Time at={accepted.sentAt} />],
            ["Happened", <Time at={accepted.timestamp} />],
            [
              "Clock correction",
              accepted.skewCorrectionMs === null || accepted.skewCorrectionMs === 0
                ? "none"
                : `${accepted.skewCorrectionMs} ms (the device clock was off)`,
            ],
            ["Log place", `partition ${accepted.partition}, offset ${accepted.offset}`],
          ]}
        />
        {accepted.rerunOf ? <p className="small">Re-run of a held message after it was released.</p> : null}
      </Stage>
      {dedup.duplicateOf ? (
        <Stage title="Duplicate check" status="duplicate" tone="warn">
          <p>
            Already received (partition {dedup.duplicateOf.partition}, offset {dedup.duplicateOf.offset}): this copy
            was dropped.
          </p>
        </Stage>
      ) : (
        <Stage title="Duplicate check" status="first seen" tone="good" />
      )}
      {arrival.transformations === undefined ? (
        <Skipped title="Transformations" stopped={stopped} />
      ) : (
        <Transformations arrival={arrival} />
      )}
      {arrival.violations === undefined ? (
        <Skipped title="Tracking plan" stopped={stopped} />
      ) : (
        <Violations arrival={arrival} />
      )}
      {arrival.pii === undefined ? <Skipped title="PII controls" stopped={stopped} /> : <Pii arrival={arrival} />}
      {arrival.profile === undefined ? (
        <Skipped title="Identity" stopped={stopped} />
      ) : (
        <Identity profile={arrival.profile} />
      )}
      {arrival.traits === undefined ? (
        <Skipped title="Traits changed" stopped={stopped} />
      ) : (
        <Stage
          title="Traits changed"
          status={arrival.traits.length ? plural(arrival.traits.length, "trait") : "none"}
          tone={arrival.traits.length ? "good" : "neutral"}
        >
          {arrival.traits.length ? (
            <Facts rows={arrival.traits.map((t) => [t.name, valueText(t.value)])} />
          ) : null}
        </Stage>
      )}
      {arrival.audiences === undefined ? (
        <Skipped title="Audiences and computed traits" stopped={stopped} />
      ) : (
        <Audiences arrival={arrival} />
      )}
      {arrival.subscriptions === undefined ? (
        <Skipped title="Subscriptions" stopped={stopped} />
      ) : (
        <Subscriptions arrival={arrival} />
      )}
    </>
  );
}

function Transformations({ arrival }: { arrival: Arrival }) {
  const applied = arrival.transformations ?? [];
  const dropped = applied.some((t) => t.did === "dropped");
  return (
    <Stage
      title="Transformations"
      status={dropped ? "dropped" : applied.length ? `${applied.length} applied` : "none applied"}
      tone={dropped ? "bad" : applied.length ? "good" : "neutral"}
    >
      {applied.length ? (
        <ul>
          {applied.map((t, n) => (
            <li key={n}>
              <strong>{t.name}</strong> ({t.kind.replace(/_/g, " ")}): {t.did}
            </li>
          ))}
        </ul>
      ) : null}
    </Stage>
  );
}

function Violations({ arrival }: { arrival: Arrival }) {
  const found = arrival.violations ?? [];
  const held = arrival.held;
  return (
    <Stage
      title="Tracking plan"
      status={held ? `held: ${held.disposition}` : found.length ? plural(found.length, "violation") : "valid"}
      tone={held ? "bad" : found.length ? "warn" : "good"}
    >
      {found.length ? (
        <ul>
          {found.map((v, n) => (
            <li key={n}>
              <span className="mono">{v.path || "(message)"}</span>: {v.rule}
            </li>
          ))}
        </ul>
      ) : null}
      {held ? <p>Held ({held.disposition}): {held.reason}</p> : null}
    </Stage>
  );
}

function Pii({ arrival }: { arrival: Arrival }) {
  const applied = arrival.pii ?? [];
  return (
    <Stage
      title="PII controls"
      status={arrival.held && arrival.stopped ? "blocked" : applied.length ? plural(applied.length, "control") : "none applied"}
      tone={arrival.held && arrival.stopped ? "bad" : applied.length ? "good" : "neutral"}
    >
      {applied.length ? (
        <ul>
          {applied.map((p, n) => (
            <li key={n}>
              <span className="mono">{p.path ?? "?"}</span>: {[p.classification, p.kind].filter(Boolean).join(" ")}{" "}
              → {p.control}
            </li>
          ))}
        </ul>
      ) : null}
    </Stage>
  );
}

function Identity({ profile }: { profile: NonNullable<Arrival["profile"]> }) {
  return (
    <Stage
      title="Identity"
      status={profile.merges.length ? "merged profiles" : profile.profileId ? "resolved" : "no profile"}
      tone={profile.profileId ? "good" : "neutral"}
    >
      {profile.profileId ? (
        <p>
          Profile <Link to={`/profiles/${encodeURIComponent(profile.profileId)}`}>{profile.profileId}</Link>
        </p>
      ) : (
        <p className="muted small">This message carried no identifier that names a person.</p>
      )}
      {profile.merges.length ? (
        <ul>
          {profile.merges.map((m) => (
            <li key={m.mergeId}>
              Merge {m.mergeId}: <span className="mono">{m.from}</span> into <span className="mono">{m.into}</span>
              {m.undoneAt ? " (undone)" : ""}
            </li>
          ))}
        </ul>
      ) : null}
    </Stage>
  );
}

function Audiences({ arrival }: { arrival: Arrival }) {
  const moved = arrival.audiences ?? [];
  const computed = arrival.computedTraits ?? [];
  const any = moved.length + computed.length;
  return (
    <Stage title="Audiences and computed traits" status={any ? `${any} changed` : "no change"} tone={any ? "good" : "neutral"}>
      {any ? (
        <ul>
          {moved.map((a) => (
            <li key={`a-${a.key}`}>
              {a.moved === "entered" ? "Entered" : "Exited"} audience <strong>{a.key}</strong>
            </li>
          ))}
          {computed.map((c) => (
            <li key={`c-${c.key}`}>
              Computed trait <strong>{c.key}</strong> changed
            </li>
          ))}
        </ul>
      ) : null}
    </Stage>
  );
}

function Subscriptions({ arrival }: { arrival: Arrival }) {
  const found = arrival.subscriptions ?? [];
  const queued = found.filter((s) => s.outcome === "queued").length;
  return (
    <Stage
      title="Subscriptions"
      status={found.length ? `${queued} matched · ${found.length - queued} filtered` : "none"}
      tone={queued ? "good" : "neutral"}
    >
      {found.length ? (
        <table>
          <thead>
            <tr>
              <th scope="col">Destination</th>
              <th scope="col">Subscription</th>
              <th scope="col">Outcome</th>
            </tr>
          </thead>
          <tbody>
            {found.map((s) => (
              <tr key={`${s.destination}/${s.subscription}`}>
                <td>
                  <Link to={`/destinations/${encodeURIComponent(s.destination)}`}>{s.destination}</Link>
                </td>
                <td>{s.subscription}</td>
                <td>{s.outcome === "queued" ? "matched: sent to delivery" : `filtered: ${s.reason ?? "?"}`}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="muted small">No destination subscribes to messages of this workspace.</p>
      )}
      {(arrival.destinationPii ?? []).map((d) => (
        <p key={d.destination} className="small">
          PII controls for {d.destination}:{" "}
          {d.controls.map((c) => `${c.classification} ${c.kind} → ${c.control}`).join(", ")}
        </p>
      ))}
    </Stage>
  );
}
