// A mapping field's value as the editor holds it: which directive (docs/destinations.md,
// src/seamline/destinations/mapping_directives.py) and what the person typed for it.

export type Directive = "default" | "none" | "path" | "template" | "literal" | "if" | "json";

export interface FieldValue {
  directive: Directive;
  text: string; // the path, template, literal or JSON
  then: string; // @if: the path used when `text` (a path) is present
  otherwise: string; // @if: the path used otherwise
}

export const DIRECTIVES: { id: Directive; label: string }[] = [
  { id: "default", label: "Default mapping" },
  { id: "none", label: "Not mapped" },
  { id: "path", label: "From the event (@path)" },
  { id: "template", label: "Text template (@template)" },
  { id: "literal", label: "Fixed value" },
  { id: "if", label: "If present, else (@if)" },
  { id: "json", label: "Any directive as JSON (@case, @replace, @arrayPath, @json …)" },
];

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function pathText(value: unknown): string {
  return value && typeof value === "object" && "@path" in value ? String((value as { "@path": unknown })["@path"]) : "";
}

/** The editor's value for a stored mapping value (`undefined`: the field is not in the mapping). */
export function fromMapping(value: unknown, fallback: unknown): FieldValue {
  const blank = { text: "", then: "", otherwise: "" };
  if (value === undefined) return { directive: fallback === null || fallback === undefined ? "none" : "default", ...blank };
  if (fallback !== null && fallback !== undefined && same(value, fallback)) return { directive: "default", ...blank };
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const only = keys.length === 1 ? keys[0] : "";
    const inner = (value as Record<string, unknown>)[only];
    if (only === "@path" && typeof inner === "string") return { directive: "path", ...blank, text: inner };
    if (only === "@template" && typeof inner === "string") return { directive: "template", ...blank, text: inner };
    if (only === "@if" && inner && typeof inner === "object") {
      const rule = inner as Record<string, unknown>;
      const exists = pathText(rule.exists);
      if (exists && Object.keys(rule).every((k) => ["exists", "then", "else"].includes(k)))
        return { directive: "if", text: exists, then: pathText(rule.then), otherwise: pathText(rule.else) };
    }
    return { directive: "json", ...blank, text: JSON.stringify(value, null, 2) };
  }
  if (Array.isArray(value)) return { directive: "json", ...blank, text: JSON.stringify(value, null, 2) };
  return { directive: "literal", ...blank, text: value === null ? "" : String(value) };
}

/** The mapping value to send, or `undefined` to leave the field out (the default applies). */
export function toMapping(value: FieldValue, type: string, label: string): unknown {
  switch (value.directive) {
    case "default":
    case "none":
      return undefined;
    case "path":
      return { "@path": value.text.trim() };
    case "template":
      return { "@template": value.text };
    case "if": {
      const rule: Record<string, unknown> = { exists: { "@path": value.text.trim() } };
      if (value.then.trim()) rule.then = { "@path": value.then.trim() };
      if (value.otherwise.trim()) rule.else = { "@path": value.otherwise.trim() };
      return { "@if": rule };
    }
    case "json":
      try {
        return JSON.parse(value.text);
      } catch {
        throw new Error(`${label}: the JSON does not parse`);
      }
    case "literal": {
      const text = value.text.trim();
      if (type === "number" || type === "integer") {
        const number = Number(text);
        if (text === "" || Number.isNaN(number)) throw new Error(`${label} must be a number`);
        return number;
      }
      if (type === "boolean") return text === "true";
      if (type === "object") {
        try {
          return { "@literal": JSON.parse(text) };
        } catch {
          throw new Error(`${label}: the JSON does not parse`);
        }
      }
      return value.text;
    }
  }
}
