// The answer of GET /api/v1/messages/{messageId} (src/seamline/api/messages.py).

export interface Accepted {
  source: { id: string | null; name: string | null };
  receivedAt?: string | null;
  sentAt?: string | null;
  originalTimestamp?: string | null;
  timestamp?: string | null;
  skewCorrectionMs: number | null;
  partition: number;
  offset: number;
  index: number;
  rerunOf?: unknown;
}

export interface Place {
  partition: number;
  offset: number;
  index: number;
}

export interface Arrival {
  accepted: Accepted;
  dedup: { firstSeen?: boolean; duplicateOf?: Place };
  // The keys below are absent when the message stopped before the stage.
  transformations?: { name: string; kind: string; did: string }[];
  violations?: { rule: string; path: string }[];
  held?: { disposition: string; reason: string } | null;
  pii?: { path?: string; classification?: string; kind?: string; control?: string }[];
  profile?: { profileId: string | null; merges: { mergeId: number; from: string; into: string; undoneAt?: string }[] };
  traits?: { name: string; value: unknown }[];
  audiences?: { key: string; moved: string }[];
  computedTraits?: { key: string }[];
  subscriptions?: { destination: string; subscription: string; outcome: string; reason?: string }[];
  destinationPii?: { destination: string; controls: { kind: string; classification: string; control: string }[] }[];
  stopped?: string | null;
}

export interface Attempt {
  destination: string;
  subscription: string;
  attempt: number;
  outcome: string;
  status: number | null;
  error: string | null;
  at: string;
}

export interface DeadLetter {
  id: number;
  destination: string;
  subscription: string;
  status: number | null;
  error: string | null;
  attempts: number;
  failedAt: string;
  replayedAt: string | null;
}

export interface Trace {
  messageId: string;
  message: Record<string, unknown> | null;
  arrivals: Arrival[];
  deliveries: Attempt[];
  deadLetters: DeadLetter[];
}
