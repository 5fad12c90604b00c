// Events per source: a chart over 24 hours (hourly) or 7 days (daily), and the totals as a
// table, which is what a screen reader (and a test) reads.
import { useState } from "react";
import { Link } from "../../router";
import { Card, Tabs } from "../ui";
import { EventsChart } from "./EventsChart";
import { sum, type Overview } from "./types";

type Window = "day" | "week";
const WINDOWS = [
  { id: "day", label: "Last 24 hours" },
  { id: "week", label: "Last 7 days" },
] as const;

export function EventsCard({ events }: { events: Overview["events"] }) {
  const [current, setCurrent] = useState<Window>("day");
  const hourly = current === "day";
  return (
    <Card title="Events per source">
      <Tabs label="Period" tabs={WINDOWS} current={current} onChange={setCurrent} />
      <EventsChart
        times={hourly ? events.hours : events.days}
        sources={events.sources}
        hourly={hourly}
        label={`Events per source, ${hourly ? "per hour over the last 24 hours" : "per day over the last 7 days"}`}
      />
      <table aria-label="Events per source">
        <thead>
          <tr>
            <th scope="col">Source</th>
            <th scope="col" className="num">
              Last 24 hours
            </th>
            <th scope="col" className="num">
              Last 7 days
            </th>
          </tr>
        </thead>
        <tbody>
          {events.sources.map((s) => (
            <tr key={s.id}>
              <td>
                <Link to={`/sources/${encodeURIComponent(s.id)}`}>{s.name ?? s.id}</Link>
              </td>
              <td className="num">{sum(s.hourly).toLocaleString()}</td>
              <td className="num">{sum(s.daily).toLocaleString()}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Card>
  );
}
