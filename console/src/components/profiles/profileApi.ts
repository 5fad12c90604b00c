// The Profile API's paths and shapes, as the console reads them. The API is Segment's: a
// "space" is the workspace, and a signed-in user's session works as its credential.

// Seamline serves one workspace per deployment, named "default" (src/seamline/workspace);
// /api/v1/auth/me does not name it, so the console uses the same name the server does.
export const SPACE = "default";

const base = `/v1/spaces/${SPACE}`;

/** The Profile API path for `rest` of the profile found by `identifier` (`email:a@b.com`, `use_…`). */
export function profilePath(identifier: string, rest: string): string {
  return `${base}/collections/users/profiles/${encodeURIComponent(identifier)}/${rest}`;
}

export function searchPath(params: Record<string, string>): string {
  return `${base}/profiles?` + new URLSearchParams(params).toString();
}

export function unmergePath(mergeId: number): string {
  return `${base}/merges/${mergeId}/unmerge`;
}

/** The console's own page for a profile. */
export function profileLink(identifier: string): string {
  return `/profiles/${encodeURIComponent(identifier)}`;
}

export interface Cursor {
  url: string;
  has_more: boolean;
  next: string;
}

export interface VerboseTrait {
  value: unknown;
  source_id?: string | null;
  updated_at?: string | null;
}

export interface ExternalId {
  id: string;
  type: string;
  source_id: string | null;
  created_at: string;
}

export interface ProfileEvent {
  type: string;
  message_id: string;
  source_id: string;
  timestamp: string | null;
  received_at: string | null;
  event?: string;
  name?: string;
  properties?: Record<string, unknown>;
  traits?: Record<string, unknown>;
  user_id: string | null;
  anonymous_id: string | null;
}

export interface Merge {
  merge_id: number;
  from_profile: string;
  into_profile: string;
  message_id: string | null;
  identifiers: string[];
  merged_at: string | null;
  // How the merge was decided: "deterministic" (a shared identifier), "probabilistic" (the
  // matcher, with its match probability as score) or "manual"; absent on older servers.
  kind?: string;
  score?: number | null;
}

/** A value as a person reads it: text as is, anything else as JSON. */
export function shown(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === null || value === undefined) return "—";
  return JSON.stringify(value);
}
