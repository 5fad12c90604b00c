// The saved audiences or computed traits, with their size, text, and Compute / Members.
import { post } from "../../api";
import type { Loaded } from "../../hooks";
import { Can } from "../../session";
import { ActionButton, Card, Empty, ErrorNote, Loading } from "../ui";
import type { Collection } from "./Estimate";

export interface Summary {
  key: string;
  text: string;
  size: number;
}

export function DefinitionList({
  collection,
  listed,
  onMembers,
  onComputed,
}: {
  collection: Collection;
  listed: Loaded<{ data: Summary[] }>;
  onMembers: ((key: string) => void) | null;
  onComputed: (key: string, size: number) => void;
}) {
  const audiences = collection === "audiences";
  const rows = listed.data?.data ?? [];
  return (
    <Card title={audiences ? "Audiences" : "Computed traits"}>
      {listed.loading && !listed.data ? <Loading /> : null}
      <ErrorNote error={listed.error} />
      {listed.data && rows.length === 0 ? (
        <Empty>
          {audiences ? "No audiences yet — build one below." : "No computed traits yet — define one below."}
        </Empty>
      ) : null}
      {rows.length > 0 ? (
        <table aria-label={audiences ? "Audiences" : "Computed traits"}>
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Definition</th>
              <th scope="col">{audiences ? "Members" : "Profiles with a value"}</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.key}>
                <th scope="row" className="mono">
                  {row.key}
                </th>
                <td>{row.text}</td>
                <td>{row.size.toLocaleString()}</td>
                <td>
                  <div className="row">
                    {onMembers ? (
                      <button
                        type="button"
                        className="button secondary"
                        aria-label={`Show members of ${row.key}`}
                        onClick={() => onMembers(row.key)}
                      >
                        Members
                      </button>
                    ) : null}
                    <Can permission="engage:write">
                      <ActionButton
                        kind="secondary"
                        aria-label={`Compute ${row.key}`}
                        action={async () => {
                          const done = await post<{ size: number }>(
                            `/api/v1/${collection}/${encodeURIComponent(row.key)}/compute`,
                          );
                          listed.reload();
                          onComputed(row.key, done.size);
                        }}
                      >
                        Compute
                      </ActionButton>
                    </Can>
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Card>
  );
}
