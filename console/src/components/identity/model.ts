// The identity rules and match proposals as the API shapes them (docs/identity.md), and the
// editable form of a rules document. The console never asks for JSON: the form holds rows, and
// `toDocument` writes the document `PUT /api/v1/identity/rules` takes.

export const RULES = "/api/v1/identity/rules";
export const PROPOSALS = "/api/v1/identity/proposals";
export const MATCHING = "/api/v1/identity/matching";

export interface TypeRule {
  priority: number;
  limit?: number | null;
  window_seconds?: number | null;
}

export interface CustomType {
  name: string;
  path: string;
}

export interface RulesDocument {
  types?: Record<string, TypeRule>;
  blocked_values?: string[];
  blocked_patterns?: string[];
  custom?: CustomType[];
  matching?: Record<string, unknown>;
}

export type VersionState = "draft" | "applying" | "active" | "superseded" | "failed";

export interface VersionRow {
  version: number;
  state: VersionState;
  created_at: string | null;
  created_by: string | null;
  activated_at: string | null;
}

export interface RulesState {
  active: { version: number; document: RulesDocument; activated_at: string | null; created_by: string | null } | null;
  versions: VersionRow[];
  defaults: RulesDocument;
}

export interface Progress {
  phase: string;
  done: number;
  total: number;
}

export interface VersionDetail {
  version: number;
  state: VersionState;
  document: RulesDocument;
  progress: Progress | null;
  error: string | null;
}

export interface PreviewExample {
  kind: "merge" | "split";
  profiles: string[];
  identifiers: string[];
}

export interface RulesPreview {
  profiles_before: number;
  profiles_after: number;
  merges: number;
  splits: number;
  examples: PreviewExample[];
}

export interface Comparison {
  field: string;
  left: unknown;
  right: unknown;
  level: string | number;
  bayes_factor?: number | null;
}

export type ProposalStatus = "pending" | "merged" | "rejected" | "superseded";

export interface Proposal {
  id: number | string;
  left_profile: string;
  right_profile: string;
  probability: number;
  comparisons: Comparison[];
  status: ProposalStatus;
  created_at: string | null;
  decided_at: string | null;
  decided_by: string | null;
  merge_id?: number | null;
}

/** The matching job's last run and how many proposals are in each status. */
export interface Matching {
  last_run: { finished_at: string | null; status: string | null; error: string | null; running: boolean } | null;
  proposals: Partial<Record<ProposalStatus, number>>;
}

/** One identifier type's row in the rules the workspace uses: its own rule, or the default. */
export interface EffectiveType extends TypeRule {
  name: string;
  custom: boolean;
  changed: boolean;
}

/** The rules in force: the defaults with the document's types laid over them, ranked by priority. */
export function effectiveTypes(document: RulesDocument, defaults: RulesDocument): EffectiveType[] {
  const base = defaults.types ?? {};
  const own = document.types ?? {};
  const customNames = new Set((document.custom ?? []).map((c) => c.name));
  const names = new Set([...Object.keys(base), ...Object.keys(own), ...customNames]);
  const rows: EffectiveType[] = [];
  for (const name of names) {
    // A field a type's rule leaves out keeps the default's; a custom type with no priority of
    // its own ranks after every built-in type (Segment's order), shown as NaN here.
    const rule: TypeRule = { ...(base[name] ?? { priority: NaN, limit: 5 }), ...own[name] };
    const changed = name in own && !sameRule(rule, base[name]);
    rows.push({ name, custom: customNames.has(name) || !(name in base), changed, ...rule });
  }
  return rows.sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}

const rank = (row: EffectiveType) => (Number.isNaN(row.priority) ? Number.MAX_SAFE_INTEGER : row.priority);

function sameRule(a: TypeRule | undefined, b: TypeRule | undefined): boolean {
  if (!a || !b) return false;
  return a.priority === b.priority && (a.limit ?? null) === (b.limit ?? null) && (a.window_seconds ?? null) === (b.window_seconds ?? null);
}

export function blockedValues(document: RulesDocument, defaults: RulesDocument): string[] {
  return document.blocked_values ?? defaults.blocked_values ?? [];
}

// Windows a person thinks in; a window the API holds in another size shows in seconds.
export const WINDOW_UNITS = [
  { id: "days", label: "days", seconds: 86400 },
  { id: "hours", label: "hours", seconds: 3600 },
  { id: "minutes", label: "minutes", seconds: 60 },
] as const;

export type WindowUnit = (typeof WINDOW_UNITS)[number]["id"];

/** "any time" without a window; else the largest whole unit ("7 days"). */
export function windowWords(seconds: number | null | undefined): string {
  if (!seconds) return "any time";
  const [amount, unit] = splitWindow(seconds);
  return `the last ${amount} ${amount === 1 ? unit.replace(/s$/, "") : unit}`;
}

export function splitWindow(seconds: number): [number, WindowUnit] {
  for (const unit of WINDOW_UNITS) if (seconds % unit.seconds === 0) return [seconds / unit.seconds, unit.id];
  return [seconds / 60, "minutes"];
}

export function limitWords(limit: number | null | undefined): string {
  return limit === null || limit === undefined ? "no limit" : String(limit);
}

// The editor's form: plain rows, each field as typed (text), checked only when saved.
export interface TypeRow {
  name: string;
  priority: string;
  limit: string;
  window: string;
  unit: WindowUnit;
  builtIn: boolean;
}

export interface RulesForm {
  types: TypeRow[];
  blocked: string[];
  patterns: string[];
  custom: CustomType[];
  // Kept as it came: the matching block is edited elsewhere (seamline apply, the API).
  matching: Record<string, unknown> | undefined;
}

export function formFrom(document: RulesDocument, defaults: RulesDocument): RulesForm {
  const builtIn = new Set(Object.keys(defaults.types ?? {}));
  const types = effectiveTypes(document, defaults).map((row): TypeRow => {
    const [amount, unit] = row.window_seconds ? splitWindow(row.window_seconds) : [0, "days" as WindowUnit];
    return {
      name: row.name,
      priority: Number.isNaN(row.priority) ? "" : String(row.priority),
      limit: row.limit === null || row.limit === undefined ? "" : String(row.limit),
      window: amount ? String(amount) : "",
      unit,
      builtIn: builtIn.has(row.name),
    };
  });
  return {
    types,
    blocked: [...blockedValues(document, defaults)],
    patterns: [...(document.blocked_patterns ?? [])],
    custom: (document.custom ?? []).map((c) => ({ ...c })),
    matching: document.matching,
  };
}

/** The document of `form`: only the types whose rule differs from the default, so a later
 * change of a default still reaches the types this workspace never touched. */
export function toDocument(form: RulesForm, defaults: RulesDocument): RulesDocument {
  const types: Record<string, TypeRule> = {};
  for (const row of form.types) {
    const name = row.name.trim();
    if (!name || row.priority.trim() === "") continue;
    const rule: TypeRule = {
      priority: Number(row.priority),
      limit: row.limit.trim() === "" ? null : Number(row.limit),
      window_seconds:
        row.window.trim() === "" || Number(row.window) === 0
          ? null
          : Math.round(Number(row.window) * WINDOW_UNITS.find((u) => u.id === row.unit)!.seconds),
    };
    if (!sameRule(rule, defaults.types?.[name])) types[name] = rule;
  }
  const document: RulesDocument = {
    types,
    blocked_values: form.blocked,
    blocked_patterns: form.patterns,
    custom: form.custom.filter((c) => c.name.trim() !== "").map((c) => ({ name: c.name.trim(), path: c.path.trim() })),
  };
  if (form.matching !== undefined) document.matching = form.matching;
  return document;
}

export function percent(probability: number): string {
  const value = probability * 100;
  return `${value >= 99.95 || value < 0.05 ? value.toFixed(2) : value.toFixed(1)}%`;
}
