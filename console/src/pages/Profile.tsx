// One person: traits (and the source that set each), identifiers, events, Engage's audiences
// and computed traits, and the merges that built the profile, with Unmerge.
import { useState } from "react";
import "../components/profiles/profiles.css";
import { MergeHistory } from "../components/profiles/MergeHistory";
import { ProfileEvents } from "../components/profiles/ProfileEvents";
import { CustomTraits, EngageTraits, Identifiers } from "../components/profiles/ProfileTraits";
import { profileLink, profilePath, searchPath } from "../components/profiles/profileApi";
import { Card, ErrorNote, Loading, Page, Time } from "../components/ui";
import { useGet } from "../hooks";
import type { PageProps } from "../pages";
import { Link } from "../router";

interface Metadata {
  metadata: { created_at: string | null; updated_at: string | null; last_source_id: string | null };
}

export default function Profile({ params }: PageProps) {
  const identifier = params.id ?? "";
  // Changes after an unmerge, so every part reads the profile again.
  const [version, setVersion] = useState(0);
  const [split, setSplit] = useState<{ profile_id: string; split_from: string } | null>(null);
  const found = useGet<{ data: { profile_id: string }[] }>(searchPath({ identifier }));
  const meta = useGet<Metadata>(profilePath(identifier, "metadata"));
  const canonical = found.data?.data[0]?.profile_id;

  return (
    <Page title="Profile">
      <p className="small">
        <Link to="/profiles">← All profiles</Link>
      </p>
      {found.loading && !found.data ? <Loading what="Finding the profile" /> : null}
      <ErrorNote error={found.error} />
      {found.data && !canonical ? (
        <p className="error" role="alert">
          Nobody has the identifier {identifier}. <Link to="/profiles">Search again</Link>.
        </p>
      ) : null}
      {canonical ? (
        <div key={version} className="page">
          <Card>
            <dl className="profile-summary">
              <div>
                <dt>Looked up by</dt>
                <dd className="mono">{identifier}</dd>
              </div>
              <div>
                <dt>Profile ID</dt>
                <dd className="mono">{canonical}</dd>
              </div>
              <div>
                <dt>Created</dt>
                <dd>
                  <Time at={meta.data?.metadata.created_at} />
                </dd>
              </div>
              <div>
                <dt>Last seen</dt>
                <dd>
                  <Time at={meta.data?.metadata.updated_at} />
                </dd>
              </div>
            </dl>
          </Card>
          {split ? (
            <p className="notice" role="status">
              Unmerged: <Link to={profileLink(split.profile_id)}>{split.profile_id}</Link> is a profile of its own
              again, apart from {split.split_from}.
            </p>
          ) : null}
          <div className="grid">
            <CustomTraits identifier={identifier} />
            <Identifiers identifier={identifier} />
          </div>
          <div className="grid">
            <EngageTraits identifier={identifier} kind="audience" />
            <EngageTraits identifier={identifier} kind="computed_trait" />
          </div>
          <MergeHistory
            identifier={identifier}
            canonical={canonical}
            onUnmerged={(done) => {
              setSplit(done);
              setVersion((n) => n + 1);
              found.reload();
              meta.reload();
            }}
          />
          <ProfileEvents identifier={identifier} />
        </div>
      ) : null}
    </Page>
  );
}
