// Match review: profiles the probabilistic matcher found alike but not sure enough to merge by
// themselves, each with its probability and the comparisons behind it, side by side. Accept
// merges the two (an unmergeable `probabilistic` merge); Reject keeps them apart.
import { useState } from "react";
import { post, query } from "../../api";
import { useGet } from "../../hooks";
import { Link } from "../../router";
import { Can } from "../../session";
import { profileLink, shown } from "../profiles/profileApi";
import { ActionButton, Badge, Card, Empty, ErrorNote, Loading, Time } from "../ui";
import { MATCHING, PROPOSALS, percent, type Matching, type Proposal, type ProposalStatus } from "./model";

const STATUSES: { id: ProposalStatus; label: string }[] = [
  { id: "pending", label: "Waiting for review" },
  { id: "merged", label: "Merged" },
  { id: "rejected", label: "Rejected" },
  { id: "superseded", label: "Merged another way" },
];

const PAGE = 50;

export function Proposals() {
  const [status, setStatus] = useState<ProposalStatus>("pending");
  const [next, setNext] = useState<string | undefined>(undefined);
  const [done, setDone] = useState("");
  const found = useGet<{ data: Proposal[]; cursor: { has_more: boolean; next: string | null } }>(
    PROPOSALS + query({ status, limit: PAGE, next }),
  );
  const matching = useGet<Matching>(`${MATCHING}`, 10);
  const rows = found.data?.data ?? [];
  const decide = async (proposal: Proposal, how: "accept" | "reject") => {
    const answer = await post<{ id: number; status: ProposalStatus; merge_id?: number }>(
      `${PROPOSALS}/${encodeURIComponent(String(proposal.id))}/${how}`,
    );
    setDone(
      answer.status === "merged"
        ? `Merged ${proposal.left_profile} and ${proposal.right_profile}. You can unmerge them on the profile's page.`
        : `Rejected: ${proposal.left_profile} and ${proposal.right_profile} stay apart.`,
    );
    found.reload();
  };
  return (
    <Card title="Match review">
      <p className="muted small">
        Probabilistic matching compares names, emails (typos included), phones, addresses and dates of birth. Pairs it is
        sure of merge by themselves; the ones below wait for you. Each line shows what was compared and how alike it was.
      </p>
      <div className="row">
        <label>
          Show
          <select
            value={status}
            onChange={(e) => {
              setStatus(e.target.value as ProposalStatus);
              setNext(undefined);
            }}
          >
            {STATUSES.map((s) => (
              <option key={s.id} value={s.id}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
        <Can permission="identity:write">
          <ActionButton
            kind="secondary"
            action={async () => {
              await post(`${MATCHING}/run`);
              matching.reload();
              setDone("Matching started: new proposals show here when it is done.");
            }}
          >
            Run matching now
          </ActionButton>
        </Can>
      </div>
      <LastRun matching={matching.data} />
      {done ? (
        <p role="status" className="ok-note">
          {done}
        </p>
      ) : null}
      <ErrorNote error={found.error} />
      {found.loading && !found.data ? <Loading /> : null}
      {found.data && rows.length === 0 ? (
        <Empty>{status === "pending" ? "Nothing waits for review." : `No ${status} proposals.`}</Empty>
      ) : null}
      {rows.map((proposal) => (
        <ProposalView key={proposal.id} proposal={proposal} decide={decide} />
      ))}
      {found.data?.cursor.has_more && found.data.cursor.next ? (
        <p>
          <button type="button" className="button secondary" onClick={() => setNext(found.data?.cursor.next ?? undefined)}>
            Next {PAGE}
          </button>
        </p>
      ) : null}
    </Card>
  );
}

function LastRun({ matching }: { matching: Matching | undefined }) {
  if (!matching) return null;
  const last = matching.last_run;
  const waiting = matching.proposals.pending ?? 0;
  return (
    <p className="small muted" data-testid="matching-last-run">
      {waiting} waiting for review.{" "}
      {last === null ? (
        "Matching has not run yet."
      ) : last.running ? (
        "Matching is running now…"
      ) : (
        <>
          Matching last ran <Time at={last.finished_at} />
          {last.status ? ` (${last.status})` : ""}.{last.error ? ` ${last.error}` : ""}
        </>
      )}
    </p>
  );
}

function ProposalView({
  proposal,
  decide,
}: {
  proposal: Proposal;
  decide: (proposal: Proposal, how: "accept" | "reject") => Promise<void>;
}) {
  const title = `Proposal ${proposal.id}`;
  return (
    <article className="proposal" aria-label={title}>
      <header className="row">
        <strong className="probability">{percent(proposal.probability)}</strong>
        <span className="muted small">likely the same person</span>
        <Badge tone={proposal.status === "merged" ? "good" : proposal.status === "rejected" ? "neutral" : "warn"}>
          {proposal.status}
        </Badge>
        <span className="muted small">
          found <Time at={proposal.created_at} />
          {proposal.decided_at ? (
            <>
              {" "}
              · decided <Time at={proposal.decided_at} /> {proposal.decided_by ? `by ${proposal.decided_by}` : ""}
            </>
          ) : null}
        </span>
      </header>
      <table aria-label={`Comparisons of ${title}`}>
        <thead>
          <tr>
            <th scope="col">Field</th>
            <th scope="col">
              <Link to={profileLink(`profile_id:${proposal.left_profile}`)} className="mono">
                {proposal.left_profile}
              </Link>
            </th>
            <th scope="col">
              <Link to={profileLink(`profile_id:${proposal.right_profile}`)} className="mono">
                {proposal.right_profile}
              </Link>
            </th>
            <th scope="col">How alike</th>
          </tr>
        </thead>
        <tbody>
          {proposal.comparisons.map((c, index) => (
            <tr key={`${c.field}-${index}`}>
              <th scope="row">{c.field}</th>
              <td>{shown(c.left)}</td>
              <td>{shown(c.right)}</td>
              <td>{String(c.level)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {proposal.status === "pending" ? (
        <Can permission="identity:write">
          <div className="row">
            <ActionButton aria-label={`Accept ${title}`} action={() => decide(proposal, "accept")}>
              Accept: same person
            </ActionButton>
            <ActionButton kind="secondary" aria-label={`Reject ${title}`} action={() => decide(proposal, "reject")}>
              Reject: different people
            </ActionButton>
          </div>
        </Can>
      ) : null}
      {proposal.status === "merged" ? (
        <p className="small">
          Merged into one profile: <Link to={profileLink(`profile_id:${proposal.left_profile}`)}>open the profile</Link>{" "}
          (its merge history can undo it).
        </p>
      ) : null}
    </article>
  );
}
