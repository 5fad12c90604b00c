// The home page: events per source, pipeline lag, delivery health, violations, and what is
// held or dead-lettered (GET /api/v1/overview, refreshed every 10 s).
import { DeliveryCard } from "../components/overview/DeliveryCard";
import { EventsCard } from "../components/overview/EventsCard";
import { FirstEvent } from "../components/overview/FirstEvent";
import { LagCard, ViolationsCard, WaitingCard } from "../components/overview/HealthCards";
import "../components/overview/overview.css";
import { sum, type Overview as OverviewData } from "../components/overview/types";
import { ErrorNote, Loading, Page, Time } from "../components/ui";
import { useGet } from "../hooks";
import type { PageProps } from "../pages";
import { Link } from "../router";
import { useCan } from "../session";

export default function Overview(_props: PageProps) {
  const canRead = useCan("sources:read");
  return <Page title="Overview">{canRead ? <Dashboard /> : <NoSources />}</Page>;
}

function NoSources() {
  return (
    <p>
      Your roles do not include the workspace's sources, so there is no overview to show. Use the pages in the menu, or{" "}
      <Link to="/settings">see your account</Link>.
    </p>
  );
}

function Dashboard() {
  const { data, error } = useGet<OverviewData>("/api/v1/overview", 10);
  if (data === undefined && error?.status === 403)
    return (
      <p role="note">
        The overview covers the whole workspace, and your roles reach only some of its sources. See them in{" "}
        <Link to="/sources">Sources</Link>.
      </p>
    );
  if (data === undefined) return error ? <ErrorNote error={error} /> : <Loading what="Loading the overview" />;
  const empty = data.events.sources.every((s) => sum(s.daily) === 0 && sum(s.hourly) === 0);
  return (
    <>
      <p className="muted small">
        Updated <Time at={data.generated_at} />, every 10 seconds.
      </p>
      {/* A failed refresh keeps the last figures on screen and says why beside them. */}
      <ErrorNote error={error} />
      {empty ? <FirstEvent /> : null}
      <EventsCard events={data.events} />
      <div className="grid">
        <LagCard lag={data.lag} />
        <WaitingCard held={data.held} deadLetters={data.dead_letters} />
      </div>
      <DeliveryCard destinations={data.destinations} />
      <ViolationsCard violations={data.violations} />
    </>
  );
}
