// The shape GET /api/v1/overview answers (src/seamline/api/overview.py, ops/overview.py).

export interface SourceEvents {
  id: string;
  name: string | null;
  /** One count per entry of `hours` (oldest first, the current hour last). */
  hourly: number[];
  /** One count per entry of `days`. */
  daily: number[];
}

export interface PartitionLag {
  partition: number;
  end: number;
  committed: number;
  lag: number;
}

export interface DestinationHealth {
  name: string;
  delivered: number;
  retried: number;
  failed: number;
  pending: number;
  dead_letters: number;
}

export interface Overview {
  generated_at: string;
  events: { hours: string[]; days: string[]; sources: SourceEvents[] };
  lag: {
    pipeline: { records: number; partitions: PartitionLag[] };
    deliver: { pending: number; due: number; oldest_due_seconds: number | null };
  };
  destinations: DestinationHealth[];
  violations: { days: string[]; counts: number[] };
  held: { count: number; path: string };
  dead_letters: { count: number; by_destination: Record<string, number> };
}

export const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

export const destinationLink = (name: string) => `/destinations/${encodeURIComponent(name)}`;

/** The destination's page, asking for its dead-letters tab. */
export const deadLettersLink = (name: string) => `${destinationLink(name)}?tab=dead`;
