// Delivery health per destination over the last 24 hours, with links to each destination.
import { Link } from "../../router";
import { Card, Empty } from "../ui";
import { deadLettersLink, destinationLink, type DestinationHealth } from "./types";

function Count({ value, tone }: { value: number; tone: "bad" | "warn" }) {
  return <span className={value > 0 ? `count ${tone}` : "count"}>{value.toLocaleString()}</span>;
}

export function DeliveryCard({ destinations }: { destinations: DestinationHealth[] }) {
  return (
    <Card title="Delivery health (last 24 hours)">
      {destinations.length === 0 ? (
        <Empty>
          No destinations yet. <Link to="/destinations">Add one</Link> to send your events on.
        </Empty>
      ) : (
        <table aria-label="Delivery health per destination">
          <thead>
            <tr>
              <th scope="col">Destination</th>
              <th scope="col" className="num">
                Delivered
              </th>
              <th scope="col" className="num">
                Retried
              </th>
              <th scope="col" className="num">
                Failed
              </th>
              <th scope="col" className="num">
                Waiting
              </th>
              <th scope="col" className="num">
                Dead letters
              </th>
            </tr>
          </thead>
          <tbody>
            {destinations.map((d) => (
              <tr key={d.name}>
                <td>
                  <Link to={destinationLink(d.name)}>{d.name}</Link>
                </td>
                <td className="num">{d.delivered.toLocaleString()}</td>
                <td className="num">
                  <Count value={d.retried} tone="warn" />
                </td>
                <td className="num">
                  <Count value={d.failed} tone="bad" />
                </td>
                <td className="num">{d.pending.toLocaleString()}</td>
                <td className="num">
                  {d.dead_letters > 0 ? (
                    <Link to={deadLettersLink(d.name)} aria-label={`${d.dead_letters} dead letters at ${d.name}`}>
                      <Count value={d.dead_letters} tone="bad" />
                    </Link>
                  ) : (
                    <Count value={0} tone="bad" />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}
