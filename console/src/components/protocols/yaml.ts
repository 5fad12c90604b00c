// YAML for the tracking-plan editor, without another library: the YAML parser CodeMirror already
// ships (the one that highlights the editor) gives the tree, and this module reads plain data
// (mappings, sequences, scalars) out of it. Anchors, aliases and tags are refused: a plan
// written by hand does not need them, and a clear error beats a silent misreading.
// `dump` writes the plain data back as block YAML.
import { yamlLanguage } from "@codemirror/lang-yaml";
import type { SyntaxNode } from "@lezer/common";

export type Plain = null | boolean | number | string | Plain[] | { [key: string]: Plain };

export type Parsed = { ok: true; value: Plain } | { ok: false; error: string };

class YamlError extends Error {}

/** The plain data of `text`, or the first problem with the line it is on. */
export function parseYaml(text: string): Parsed {
  const tree = yamlLanguage.parser.parse(text);
  const line = (at: number) => text.slice(0, at).split("\n").length;
  let broken: number | null = null;
  tree.iterate({
    enter(node) {
      if (broken === null && node.type.isError) broken = node.from;
    },
  });
  if (broken !== null) return { ok: false, error: `YAML: syntax error on line ${line(broken)}` };
  try {
    const documents: SyntaxNode[] = [];
    for (let child = tree.topNode.firstChild; child; child = child.nextSibling) {
      if (child.name === "Document") documents.push(child);
    }
    if (documents.length > 1) throw new YamlError("one document only (no second ---)");
    const content = documents[0] ? meaningful(documents[0]) : [];
    if (content.length === 0) return { ok: true, value: null };
    return { ok: true, value: read(content[0], text, line) };
  } catch (error) {
    if (error instanceof YamlError) return { ok: false, error: `YAML: ${error.message}` };
    throw error;
  }
}

const SKIPPED = new Set(["Comment", "DirectiveEnd", "DocEnd", "Directive", ":", ",", "-", "?", "{", "}", "[", "]"]);

function meaningful(node: SyntaxNode): SyntaxNode[] {
  const found: SyntaxNode[] = [];
  for (let child = node.firstChild; child; child = child.nextSibling) {
    if (!SKIPPED.has(child.name)) found.push(child);
  }
  return found;
}

function read(node: SyntaxNode, text: string, line: (at: number) => number): Plain {
  const raw = text.slice(node.from, node.to);
  switch (node.name) {
    case "BlockMapping":
    case "FlowMapping": {
      const result: { [key: string]: Plain } = {};
      for (const pair of meaningful(node)) {
        if (pair.name !== "Pair") throw new YamlError(`line ${line(pair.from)}: expected "key: value"`);
        const parts = meaningful(pair);
        const keyNode = parts.find((p) => p.name === "Key");
        const valueNode = parts.find((p) => p.name !== "Key");
        const keyContent = keyNode ? meaningful(keyNode)[0] : undefined;
        const key = keyContent ? read(keyContent, text, line) : null;
        if (key !== null && typeof key === "object") throw new YamlError(`line ${line(pair.from)}: a key must be text`);
        const name = key === null ? "null" : String(key);
        if (Object.prototype.hasOwnProperty.call(result, name)) {
          throw new YamlError(`line ${line(pair.from)}: "${name}" is there twice`);
        }
        result[name] = valueNode ? read(valueNode, text, line) : null;
      }
      return result;
    }
    case "BlockSequence":
    case "FlowSequence":
      return meaningful(node).map((item) => {
        const inside = item.name === "Item" ? meaningful(item) : [item];
        return inside.length ? read(inside[0], text, line) : null;
      });
    case "Literal":
      return scalar(raw.split("\n").map((part) => part.trim()).join(" "));
    case "QuotedLiteral":
      return quoted(raw, line(node.from));
    case "BlockLiteral":
      return block(raw);
    case "Anchor":
    case "Alias":
    case "Tagged":
    case "Tag":
      throw new YamlError(`line ${line(node.from)}: anchors, aliases and tags are not supported here`);
    default:
      throw new YamlError(`line ${line(node.from)}: cannot read "${raw.slice(0, 30)}"`);
  }
}

function scalar(text: string): Plain {
  if (/^(~|null|Null|NULL)?$/.test(text)) return null;
  if (/^(true|True|TRUE)$/.test(text)) return true;
  if (/^(false|False|FALSE)$/.test(text)) return false;
  if (/^[-+]?(0|[1-9][0-9]*)$/.test(text)) return Number(text);
  if (/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(text)) return Number(text);
  return text;
}

function quoted(raw: string, line: number): string {
  if (raw.startsWith("'")) return raw.slice(1, -1).replace(/''/g, "'").replace(/\s*\n\s*/g, " ");
  try {
    return JSON.parse(raw.replace(/\s*\n\s*/g, " ")) as string;
  } catch {
    throw new YamlError(`line ${line}: an escape in this quoted text is not one JSON knows`);
  }
}

function block(raw: string): string {
  const [header, ...rest] = raw.split("\n");
  const lines = rest;
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length), 1e9);
  const body = lines.map((l) => l.slice(indent === 1e9 ? 0 : indent));
  while (body.length && body[body.length - 1].trim() === "") body.pop();
  let text = header.startsWith(">")
    ? body.reduce((all, l, i) => (i === 0 ? l : all + (l === "" || body[i - 1] === "" ? "\n" : " ") + l), "")
    : body.join("\n");
  if (!header.includes("-")) text += "\n";
  return text;
}

/** Block YAML for plain data: what `parseYaml` reads back as the same value. */
export function dumpYaml(value: unknown): string {
  return lines(value, 0).join("\n") + "\n";
}

function isScalar(value: unknown): boolean {
  return value === null || value === undefined || typeof value !== "object";
}

function isEmpty(value: unknown): boolean {
  return typeof value === "object" && value !== null && Object.keys(value).length === 0;
}

function lines(value: unknown, depth: number): string[] {
  const pad = "  ".repeat(depth);
  if (isScalar(value) || isEmpty(value)) return [pad + inline(value)];
  if (Array.isArray(value)) {
    if (value.every(isScalar) && value.length <= 8) return [pad + inline(value)];
    return value.flatMap((item) => {
      if (isScalar(item) || isEmpty(item)) return [`${pad}- ${inline(item)}`];
      const inner = lines(item, depth + 1);
      return [`${pad}- ${inner[0].trimStart()}`, ...inner.slice(1)];
    });
  }
  return Object.entries(value as Record<string, unknown>).flatMap(([key, item]) => {
    const name = text(key);
    if (isScalar(item) || isEmpty(item) || (Array.isArray(item) && item.every(isScalar) && item.length <= 8)) {
      return [`${pad}${name}: ${inline(item)}`];
    }
    return [`${pad}${name}:`, ...lines(item, depth + 1)];
  });
}

function inline(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "boolean" || typeof value === "number") return String(value);
  if (typeof value === "string") return text(value);
  if (Array.isArray(value)) return `[${value.map(inline).join(", ")}]`;
  const entries = Object.entries(value as Record<string, unknown>);
  return `{${entries.map(([k, v]) => `${text(k)}: ${inline(v)}`).join(", ")}}`;
}

const PLAIN = /^[A-Za-z_][A-Za-z0-9_ .\-/@()]*$/;
const RESERVED = /^(null|true|false|yes|no|on|off|y|n)$/i;

function text(value: string): string {
  if (PLAIN.test(value) && !value.endsWith(" ") && !RESERVED.test(value)) return value;
  return JSON.stringify(value);
}
