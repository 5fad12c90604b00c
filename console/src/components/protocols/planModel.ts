// The tracking plan as the form edits it. The server keeps a plan as Segment's Public API rules
// ({type, key, version, jsonSchema}); the form shows each TRACK rule as an event with a table of
// its top-level properties (type, required) and writes changes back into the rule's JSON Schema,
// keeping every keyword it does not show (enum, pattern, nested properties …).

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Obj = { [key: string]: Json };

export interface Rule {
  type: string;
  key: string | null;
  description?: string;
  version?: number;
  jsonSchema: Obj;
}

export interface PlanDocument {
  name?: string;
  description?: string;
  rules: Rule[];
}

export const TYPES = ["string", "number", "integer", "boolean", "object", "array", "null", "any"] as const;

export interface PropertyRow {
  name: string;
  type: string;
  required: boolean;
}

const SCHEMA = "http://json-schema.org/draft-07/schema#";

export function isPlan(value: unknown): value is PlanDocument {
  return typeof value === "object" && value !== null && Array.isArray((value as PlanDocument).rules);
}

function obj(value: Json | undefined): Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? value : {};
}

/** The `properties` schema of a track rule (the message's `properties` object). */
function propsSchema(rule: Rule): Obj {
  return obj(obj(rule.jsonSchema.properties).properties);
}

export function propertyRows(rule: Rule): PropertyRow[] {
  const schema = propsSchema(rule);
  const required = Array.isArray(schema.required) ? schema.required.map(String) : [];
  return Object.entries(obj(schema.properties)).map(([name, field]) => {
    const type = obj(field).type;
    return {
      name,
      type: Array.isArray(type) ? type.join(" or ") : typeof type === "string" ? type : "any",
      required: required.includes(name),
    };
  });
}

/** `rule` with its properties replaced by `rows`, other keywords of each field kept. */
export function withRows(rule: Rule, rows: PropertyRow[]): Rule {
  const schema = propsSchema(rule);
  const before = obj(schema.properties);
  const properties: Obj = {};
  for (const row of rows) {
    if (!row.name) continue;
    const field: Obj = { ...obj(before[row.name]) };
    if (row.type === "any") delete field.type;
    else field.type = row.type.includes(" or ") ? row.type.split(" or ") : row.type;
    properties[row.name] = field;
  }
  const required = rows.filter((r) => r.required && r.name).map((r) => r.name);
  const nextProps: Obj = { ...schema, type: "object", properties };
  if (required.length) nextProps.required = required;
  else delete nextProps.required;
  const top = obj(rule.jsonSchema.properties);
  const topRequired = Array.isArray(rule.jsonSchema.required) ? rule.jsonSchema.required.map(String) : [];
  const jsonSchema: Obj = {
    ...rule.jsonSchema,
    $schema: rule.jsonSchema.$schema ?? SCHEMA,
    type: "object",
    properties: { ...top, properties: nextProps },
  };
  if (required.length && !topRequired.includes("properties")) jsonSchema.required = [...topRequired, "properties"];
  return { ...rule, jsonSchema };
}

export function newEvent(name: string): Rule {
  return {
    type: "TRACK",
    key: name,
    description: "",
    version: 1,
    jsonSchema: { $schema: SCHEMA, type: "object", properties: { properties: { type: "object", properties: {} } } },
  };
}

export function emptyPlan(name: string): PlanDocument {
  return { name, description: "", rules: [] };
}
