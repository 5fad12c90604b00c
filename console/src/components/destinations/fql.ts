// The trigger builder's conditions and the FQL they write (docs/protocols.md#fql): each
// condition is one comparison; they are joined by one `and` or `or`.

export type Subject = "type" | "event" | "property" | "trait" | "context" | "userId";
export type Operator = "=" | "!=" | "contains" | "exists" | "missing" | ">" | ">=" | "<" | "<=" | "in";

export interface Condition {
  subject: Subject;
  path: string; // for property, trait and context: the key inside (`total`, `page.path`)
  operator: Operator;
  value: string;
}

export const SUBJECTS: { id: Subject; label: string }[] = [
  { id: "type", label: "Type is" },
  { id: "event", label: "Event name" },
  { id: "property", label: "Property" },
  { id: "trait", label: "Trait" },
  { id: "context", label: "Context field" },
  { id: "userId", label: "User id" },
];

export const OPERATORS: { id: Operator; label: string }[] = [
  { id: "=", label: "is" },
  { id: "!=", label: "is not" },
  { id: "contains", label: "contains" },
  { id: "exists", label: "is present" },
  { id: "missing", label: "is missing" },
  { id: ">", label: "greater than" },
  { id: ">=", label: "at least" },
  { id: "<", label: "less than" },
  { id: "<=", label: "at most" },
  { id: "in", label: "is one of (comma-separated)" },
];

export const TYPES = ["track", "identify", "page", "screen", "group", "alias"];

const NUMBER = /^[-+]?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/;

/** An FQL literal for what a person typed: numbers, true/false/null as themselves, else text. */
export function literal(text: string, asText = false): string {
  const value = text.trim();
  if (!asText && (NUMBER.test(value) || value === "true" || value === "false" || value === "null")) return value;
  return '"' + value.replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';
}

function pathOf(condition: Condition): string {
  const inner = condition.path.trim().replace(/^\.+/, "");
  switch (condition.subject) {
    case "type":
      return "type";
    case "event":
      return "event";
    case "userId":
      return "userId";
    case "property":
      return `properties.${inner}`;
    case "trait":
      return `traits.${inner}`;
    case "context":
      return `context.${inner}`;
  }
}

/** One condition as FQL. Event names, types and ids are always text (`event = "42"`). */
export function conditionFql(condition: Condition): string {
  const path = pathOf(condition);
  const asText = condition.subject === "type" || condition.subject === "event" || condition.subject === "userId";
  switch (condition.operator) {
    case "exists":
      return `${path} != null`;
    case "missing":
      return `${path} = null`;
    case "contains":
      return `contains(${path}, ${literal(condition.value, true)})`;
    case "in": {
      const items = condition.value
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item !== "")
        .map((item) => literal(item, asText));
      return `${path} in [${items.join(", ")}]`;
    }
    default:
      return `${path} ${condition.operator} ${literal(condition.value, asText)}`;
  }
}

/** The whole trigger, or "" when there is no condition (the action's default trigger applies). */
export function triggerFql(conditions: Condition[], combinator: "and" | "or"): string {
  return conditions.map(conditionFql).join(` ${combinator} `);
}
