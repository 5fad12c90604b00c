// The shapes of the destination APIs (src/seamline/api/destinations.py, the workspace's
// `destination` and `subscription` resources, src/seamline/workspace/destination_kinds.py).

export interface SettingSpec {
  label: string;
  description: string;
  type: "string" | "number" | "boolean" | "object";
  required: boolean;
  secret: boolean;
  default: unknown;
}

export interface FieldSpec {
  label: string;
  description: string;
  type: string;
  required: boolean;
  multiple: boolean;
  default: unknown;
  choices?: string[];
}

export interface ActionSpec {
  title: string;
  description: string;
  default_trigger: string;
  batch: number;
  fields: Record<string, FieldSpec>;
}

export interface CatalogEntry {
  slug: string;
  name: string;
  description: string;
  settings: Record<string, SettingSpec>;
  actions: Record<string, ActionSpec>;
  presets: { name: string; action: string; trigger: string }[];
}

export interface Resource<D> {
  kind: string;
  name: string;
  document: D;
  version: number;
  updated_at: string;
}

export interface InstanceDocument {
  type: string;
  settings: Record<string, unknown>;
  enabled: boolean;
  filters?: unknown;
  sample_rate?: number;
  concurrency?: number;
  rate_limit?: number | null;
}

export interface SubscriptionDocument {
  destination: string;
  action: string;
  trigger: string | null;
  mapping: Record<string, unknown> | null;
  enabled: boolean;
}

export interface StatusCount {
  subscription: string;
  outcome: string;
  reason: string;
  count: number;
}

export interface Status {
  destination: string;
  minutes: number;
  pending: number;
  dead_letters: number;
  counts: StatusCount[];
}

export interface DeadLetter {
  id: number;
  subscription: string;
  message_id: string;
  payload: Record<string, unknown>;
  error: string;
  status: number | null;
  request: string | null;
  response: string | null;
  attempts: number;
  failed_at: string;
}

export interface Exchange {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
  status: number | null;
  response: string | null;
}

export interface TestResult {
  subscription: string;
  filtered?: string;
  triggered?: boolean;
  error?: string;
  payload?: Record<string, unknown>;
  delivered?: boolean;
  retryable?: boolean;
  status?: number;
  response?: string;
  requests?: Exchange[];
}

/** What the API shows instead of a stored secret; sending it back keeps the secret. */
export const HIDDEN = "[secret]";
