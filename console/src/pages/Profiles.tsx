// Profiles: find people by any identifier or by a trait value, then open one.
import { useState, type FormEvent } from "react";
import "../components/profiles/profiles.css";
import { Card, Empty, ErrorNote, Loading, Page } from "../components/ui";
import { profileLink, searchPath, shown } from "../components/profiles/profileApi";
import { useGet } from "../hooks";
import type { PageProps } from "../pages";
import { Link, navigate, useLocation } from "../router";

const KINDS = [
  { id: "email", label: "Email" },
  { id: "user_id", label: "User ID" },
  { id: "anonymous_id", label: "Anonymous ID" },
  { id: "phone", label: "Phone" },
  { id: "profile_id", label: "Profile ID" },
  { id: "other", label: "Other identifier (type:value)" },
  { id: "trait", label: "Trait value" },
] as const;

type Kind = (typeof KINDS)[number]["id"];

interface Found {
  data: { profile_id: string; traits: Record<string, unknown> }[];
}

/** The search the URL holds (so Back returns to the same results), as Profile API parameters. */
function searchOf(params: URLSearchParams): Record<string, string> | null {
  const by = params.get("by") as Kind | null;
  const value = (params.get("value") ?? "").trim();
  if (!by || !value) return null;
  if (by === "trait") {
    const name = (params.get("trait") ?? "").trim();
    return name ? { [`trait.${name}`]: value } : null;
  }
  if (by === "other") return { identifier: value };
  return { identifier: `${by}:${value}` };
}

export default function Profiles(_props: PageProps) {
  const { params } = useLocation();
  const [by, setBy] = useState<Kind>((params.get("by") as Kind | null) ?? "email");
  const [value, setValue] = useState(params.get("value") ?? "");
  const [trait, setTrait] = useState(params.get("trait") ?? "");
  const search = searchOf(params);
  const found = useGet<Found>(search ? searchPath(search) : null);

  function submit(event: FormEvent) {
    event.preventDefault();
    const next = new URLSearchParams({ by, value });
    if (by === "trait") next.set("trait", trait);
    navigate(`/profiles?${next.toString()}`);
  }

  return (
    <Page title="Profiles">
      <Card title="Find a profile">
        <form className="row profile-search" onSubmit={submit} role="search" aria-label="Profiles">
          <label>
            Find by
            <select value={by} onChange={(e) => setBy(e.target.value as Kind)}>
              {KINDS.map((k) => (
                <option key={k.id} value={k.id}>
                  {k.label}
                </option>
              ))}
            </select>
          </label>
          {by === "trait" ? (
            <label>
              Trait name
              <input value={trait} onChange={(e) => setTrait(e.target.value)} placeholder="plan" required />
            </label>
          ) : null}
          <label className="grow">
            {by === "trait" ? "Trait value" : by === "other" ? "Identifier" : "Value"}
            <input
              value={value}
              onChange={(e) => setValue(e.target.value)}
              placeholder={by === "email" ? "ada@example.com" : by === "other" ? "type:value" : by === "trait" ? "pro" : ""}
              required
            />
          </label>
          <button type="submit" className="button primary">
            Search
          </button>
        </form>
        {by === "trait" ? (
          <p className="muted small">Numbers and true/false match as such; anything else matches as text.</p>
        ) : null}
      </Card>
      {search === null ? (
        <Empty>Search for a person by their email, user ID or any trait to see their profile.</Empty>
      ) : (
        <Card title="Results">
          {found.loading && !found.data ? <Loading what="Searching" /> : null}
          <ErrorNote error={found.error} />
          {found.data && found.data.data.length === 0 ? <Empty>Nobody matches this search.</Empty> : null}
          {found.data && found.data.data.length > 0 ? (
            <table>
              <thead>
                <tr>
                  <th scope="col">Profile</th>
                  <th scope="col">Email</th>
                  <th scope="col">Traits</th>
                </tr>
              </thead>
              <tbody>
                {found.data.data.map((row) => (
                  <tr key={row.profile_id}>
                    <td>
                      <Link to={profileLink(row.profile_id)}>{String(row.traits.name ?? row.profile_id)}</Link>
                    </td>
                    <td>{row.traits.email === undefined ? "—" : shown(row.traits.email)}</td>
                    <td className="small">
                      {Object.entries(row.traits)
                        .filter(([k]) => k !== "email" && k !== "name")
                        .slice(0, 6)
                        .map(([k, v]) => `${k}: ${shown(v)}`)
                        .join(" · ") || "—"}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
        </Card>
      )}
    </Page>
  );
}
