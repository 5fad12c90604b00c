// The shapes /api/v1/sources* answers (src/seamline/api/sources.py, ops/source_schema.py).

export interface SourceView {
  id: string;
  workspace_id: string;
  name: string;
  /** The whole key for who may change the source, else "…" and its last four characters. */
  write_key: string;
  write_key_masked: boolean;
  enabled: boolean;
  created_at: string;
}

export interface PathCount {
  path: string;
  count: number;
}

export interface SchemaEvent {
  type: string;
  /** The event's name (track) or page/screen name; null for identify and group. */
  event: string | null;
  count: number;
  last_seen: string | null;
  properties: PathCount[];
}

export interface SourceSchema {
  source_id: string;
  days: number;
  events: SchemaEvent[];
  traits: PathCount[];
}

export const sourcePath = (source: string) => `/api/v1/sources/${encodeURIComponent(source)}`;
