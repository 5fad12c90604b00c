// What the signed-in user may do with sources, finer than `useCan`: a grant scoped to some
// sources (a role written `source-admin:src_1,src_2`) changes only those and creates none.
import { useSession } from "../../session";
import type { SourceView } from "./types";

// The roles that grant sources:write (src/seamline/access/permissions.py).
const WRITERS = ["workspace-owner", "source-admin"];

/** Whether the user may create sources: a writer role on the whole workspace. */
export function useCanCreateSource(): boolean {
  const { user, permissions } = useSession();
  return permissions.has("sources:write") && user.roles.some((role) => WRITERS.includes(role));
}

/** Whether the user may change `source`: the API shows the write key only to them. */
export function canChangeSource(source: SourceView): boolean {
  return !source.write_key_masked;
}
