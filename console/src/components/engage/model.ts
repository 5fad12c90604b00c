// The audience builder's tree, and how it becomes the definition the API takes
// (docs/engage.md: all/any/not, performed, not_performed, trait, audience, account, sequence).

export const OPERATORS = [
  { id: "=", label: "is" },
  { id: "!=", label: "is not" },
  { id: ">", label: "greater than" },
  { id: ">=", label: "at least" },
  { id: "<", label: "less than" },
  { id: "<=", label: "at most" },
  { id: "contains", label: "contains" },
  { id: "not_contains", label: "does not contain" },
  { id: "starts_with", label: "starts with" },
  { id: "ends_with", label: "ends with" },
  { id: "exists", label: "exists" },
  { id: "not_exists", label: "does not exist" },
] as const;

const NUMERIC = new Set([">", ">=", "<", "<="]);
const PRESENCE = new Set(["exists", "not_exists"]);

export type Unit = "d" | "h" | "m";

/** A time window: empty `amount` is all time. */
export interface Window {
  amount: string;
  unit: Unit;
}

export interface Compare {
  subject: string; // property, trait or account trait name
  op: string;
  value: string;
}

interface Base {
  id: number;
  negate: boolean;
}

export type Node =
  | (Base & { type: "group"; mode: "all" | "any"; children: Node[] })
  | (Base & {
      type: "performed";
      event: string;
      count: "at_least" | "at_most" | "exactly";
      times: string;
      within: Window;
      where: Compare[];
    })
  | (Base & { type: "trait"; compare: Compare })
  | (Base & { type: "account"; compare: Compare })
  | (Base & { type: "audience"; key: string })
  | (Base & { type: "sequence"; steps: string[]; within: Window; during: Window });

export type NodeType = Node["type"];

export const NODE_TYPES: readonly { id: NodeType; label: string }[] = [
  { id: "performed", label: "Performed an event" },
  { id: "trait", label: "Has a trait" },
  { id: "audience", label: "Is in an audience" },
  { id: "account", label: "Has an account with" },
  { id: "sequence", label: "Did events in order" },
  { id: "group", label: "Group (all / any)" },
];

let ids = 0;
export const nextId = () => ++ids;

export function newNode(type: NodeType): Node {
  const base = { id: nextId(), negate: false };
  switch (type) {
    case "group":
      return { ...base, type, mode: "all", children: [newNode("performed")] };
    case "performed":
      return { ...base, type, event: "", count: "at_least", times: "1", within: { amount: "", unit: "d" }, where: [] };
    case "trait":
    case "account":
      return { ...base, type, compare: { subject: "", op: "=", value: "" } };
    case "audience":
      return { ...base, type, key: "" };
    case "sequence":
      return { ...base, type, steps: ["", ""], within: { amount: "1", unit: "d" }, during: { amount: "", unit: "d" } };
  }
}

export function emptyAudience(): Node {
  return { id: nextId(), negate: false, type: "group", mode: "all", children: [newNode("performed")] };
}

/** A number, true/false or text, as typed; a value in quotes is always text ("10"). */
export function typedValue(op: string, text: string): unknown {
  const trimmed = text.trim();
  if (NUMERIC.has(op)) return trimmed === "" || Number.isNaN(Number(trimmed)) ? trimmed : Number(trimmed);
  if (/^".*"$/.test(trimmed)) return trimmed.slice(1, -1);
  if (trimmed === "true" || trimmed === "false") return trimmed === "true";
  if (trimmed !== "" && !Number.isNaN(Number(trimmed))) return Number(trimmed);
  return text;
}

export const takesValue = (op: string) => !PRESENCE.has(op);

export function compareDoc(compare: Compare, subject: "name" | "property"): Record<string, unknown> {
  const doc: Record<string, unknown> = { [subject]: compare.subject, op: compare.op };
  if (takesValue(compare.op)) doc.value = typedValue(compare.op, compare.value);
  return doc;
}

export function windowDoc(window: Window): string | undefined {
  return window.amount.trim() === "" ? undefined : `${window.amount.trim()}${window.unit}`;
}

const whole = (text: string): unknown => (/^\d+$/.test(text.trim()) ? Number(text.trim()) : text);

/** The condition document for `node` (the server checks it and names any wrong field). */
export function conditionDoc(node: Node): Record<string, unknown> {
  let doc: Record<string, unknown>;
  switch (node.type) {
    case "group":
      doc = { [node.mode]: node.children.map(conditionDoc) };
      break;
    case "performed": {
      const body: Record<string, unknown> = { event: node.event };
      if (!node.negate) body[node.count] = whole(node.times);
      const within = windowDoc(node.within);
      if (within) body.within = within;
      if (node.where.length) body.where = node.where.map((c) => compareDoc(c, "property"));
      // "did not perform" is its own condition, so its text reads naturally.
      return node.negate ? { not_performed: body } : { performed: body };
    }
    case "trait":
      doc = { trait: compareDoc(node.compare, "name") };
      break;
    case "account":
      doc = { account: compareDoc(node.compare, "name") };
      break;
    case "audience":
      doc = { audience: node.key };
      break;
    case "sequence": {
      const body: Record<string, unknown> = { steps: node.steps, within: windowDoc(node.within) };
      const during = windowDoc(node.during);
      if (during) body.during = during;
      doc = { sequence: body };
      break;
    }
  }
  return node.negate ? { not: doc } : doc;
}

/** Replace the node with `id` anywhere in the tree. */
export function replaceNode(tree: Node, id: number, replacement: Node | null): Node | null {
  if (tree.id === id) return replacement;
  if (tree.type !== "group") return tree;
  const children = tree.children
    .map((child) => replaceNode(child, id, replacement))
    .filter((child): child is Node => child !== null);
  return { ...tree, children };
}

// -- computed traits ---------------------------------------------------------------------------

export const TRAIT_KINDS = [
  { id: "event_counter", label: "Count of events" },
  { id: "aggregation", label: "Sum / average / min / max of a property" },
  { id: "most_frequent", label: "Most frequent value of a property" },
  { id: "first", label: "First value of a property" },
  { id: "last", label: "Last value of a property" },
  { id: "unique_list", label: "List of distinct values" },
  { id: "unique_list_count", label: "Number of distinct values" },
] as const;

export interface TraitDraft {
  kind: (typeof TRAIT_KINDS)[number]["id"];
  event: string;
  where: Compare[];
  property: string;
  function: "sum" | "avg" | "min" | "max";
  valueType: "string" | "number";
  window: Window;
}

export function emptyTrait(): TraitDraft {
  return { kind: "event_counter", event: "", where: [], property: "", function: "sum", valueType: "string", window: { amount: "", unit: "d" } };
}

export const takesValueType = (kind: TraitDraft["kind"]) =>
  kind === "most_frequent" || kind === "first" || kind === "last" || kind === "unique_list";

export function traitDoc(draft: TraitDraft): Record<string, unknown> {
  const doc: Record<string, unknown> = { kind: draft.kind, event: draft.event };
  if (draft.where.length) doc.where = draft.where.map((c) => compareDoc(c, "property"));
  if (draft.kind !== "event_counter") doc.property = draft.property;
  if (draft.kind === "aggregation") doc.function = draft.function;
  if (takesValueType(draft.kind)) doc.value_type = draft.valueType;
  const window = windowDoc(draft.window);
  if (window) doc.window = window;
  return doc;
}
