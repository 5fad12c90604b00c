// The audience builder: a tree of groups (all / any, each may be negated) and conditions.
import { useState } from "react";
import { CompareInputs, WhereList, WindowInput } from "./fields";
import { NODE_TYPES, newNode, type Node, type NodeType } from "./model";

type Change = (node: Node) => void;

export function ConditionBuilder({ tree, onChange }: { tree: Node; onChange: Change }) {
  return (
    <div className="builder">
      <NodeEditor node={tree} onChange={onChange} onRemove={null} depth={0} />
    </div>
  );
}

function NodeEditor({
  node,
  onChange,
  onRemove,
  depth,
}: {
  node: Node;
  onChange: Change;
  onRemove: (() => void) | null;
  depth: number;
}) {
  if (node.type === "group") return <GroupEditor node={node} onChange={onChange} onRemove={onRemove} depth={depth} />;
  const label = NODE_TYPES.find((t) => t.id === node.type)?.label ?? node.type;
  return (
    <div className="condition" role="group" aria-label={`Condition: ${label}`}>
      <div className="row condition-head">
        <label className="inline">
          <input type="checkbox" checked={node.negate} onChange={(e) => onChange({ ...node, negate: e.target.checked })} />
          Not
        </label>
        <strong>{node.negate && node.type === "performed" ? "Did not perform an event" : label}</strong>
        {onRemove ? (
          <button type="button" className="button secondary small" aria-label={`Remove condition: ${label}`} onClick={onRemove}>
            Remove
          </button>
        ) : null}
      </div>
      <ConditionFields node={node} onChange={onChange} />
    </div>
  );
}

function ConditionFields({ node, onChange }: { node: Exclude<Node, { type: "group" }>; onChange: Change }) {
  switch (node.type) {
    case "performed":
      return (
        <>
          <div className="row">
            <label>
              Event
              <input value={node.event} placeholder="Order Completed" onChange={(e) => onChange({ ...node, event: e.target.value })} />
            </label>
            {node.negate ? null : (
              <>
                <label>
                  How often
                  <select
                    value={node.count}
                    onChange={(e) => onChange({ ...node, count: e.target.value as typeof node.count })}
                  >
                    <option value="at_least">at least</option>
                    <option value="at_most">at most</option>
                    <option value="exactly">exactly</option>
                  </select>
                </label>
                <label>
                  Times
                  <input
                    type="number"
                    min={0}
                    value={node.times}
                    onChange={(e) => onChange({ ...node, times: e.target.value })}
                  />
                </label>
              </>
            )}
            <WindowInput label="Within the last" value={node.within} onChange={(within) => onChange({ ...node, within })} />
          </div>
          <WhereList where={node.where} onChange={(where) => onChange({ ...node, where })} />
        </>
      );
    case "trait":
    case "account":
      return (
        <div className="row">
          <CompareInputs
            subjectLabel={node.type === "trait" ? "Trait" : "Account trait"}
            value={node.compare}
            onChange={(compare) => onChange({ ...node, compare })}
          />
        </div>
      );
    case "audience":
      return (
        <div className="row">
          <label>
            Audience key
            <input value={node.key} onChange={(e) => onChange({ ...node, key: e.target.value })} />
          </label>
        </div>
      );
    case "sequence":
      return (
        <div className="row">
          {node.steps.map((step, i) => (
            <label key={i}>
              {`Step ${i + 1} event`}
              <input
                value={step}
                onChange={(e) => onChange({ ...node, steps: node.steps.map((s, j) => (j === i ? e.target.value : s)) })}
              />
            </label>
          ))}
          {node.steps.length < 3 ? (
            <button type="button" className="button secondary small" onClick={() => onChange({ ...node, steps: [...node.steps, ""] })}>
              Add a step
            </button>
          ) : (
            <button
              type="button"
              className="button secondary small"
              onClick={() => onChange({ ...node, steps: node.steps.slice(0, 2) })}
            >
              Remove step 3
            </button>
          )}
          <WindowInput label="All steps within" value={node.within} allTime="" onChange={(within) => onChange({ ...node, within })} />
          <WindowInput label="First step in the last" value={node.during} onChange={(during) => onChange({ ...node, during })} />
        </div>
      );
  }
}

function GroupEditor({
  node,
  onChange,
  onRemove,
  depth,
}: {
  node: Extract<Node, { type: "group" }>;
  onChange: Change;
  onRemove: (() => void) | null;
  depth: number;
}) {
  const [adding, setAdding] = useState<NodeType>("trait");
  const name = depth === 0 ? "Audience conditions" : `Group at level ${depth}`;
  return (
    <fieldset className={`group depth-${Math.min(depth, 3)}`}>
      <legend className="visually-hidden">{name}</legend>
      <div className="row condition-head">
        <label className="inline">
          <input type="checkbox" checked={node.negate} onChange={(e) => onChange({ ...node, negate: e.target.checked })} />
          Not
        </label>
        <label className="inline">
          People who match
          <select value={node.mode} onChange={(e) => onChange({ ...node, mode: e.target.value as "all" | "any" })}>
            <option value="all">all of</option>
            <option value="any">any of</option>
          </select>
        </label>
        {onRemove ? (
          <button type="button" className="button secondary small" aria-label={`Remove ${name}`} onClick={onRemove}>
            Remove group
          </button>
        ) : null}
      </div>
      <div className="group-children">
        {node.children.map((child, i) => (
          <NodeEditor
            key={child.id}
            node={child}
            depth={depth + 1}
            onChange={(changed) => onChange({ ...node, children: node.children.map((c, j) => (j === i ? changed : c)) })}
            onRemove={() => onChange({ ...node, children: node.children.filter((_, j) => j !== i) })}
          />
        ))}
      </div>
      <div className="row">
        <label className="inline">
          <span className="visually-hidden">{`Condition to add to ${name}`}</span>
          <select value={adding} onChange={(e) => setAdding(e.target.value as NodeType)}>
            {NODE_TYPES.map((t) => (
              <option key={t.id} value={t.id}>
                {t.label}
              </option>
            ))}
          </select>
        </label>
        <button
          type="button"
          className="button secondary small"
          onClick={() => onChange({ ...node, children: [...node.children, newNode(adding)] })}
        >
          {depth === 0 ? "Add condition" : `Add condition to group ${depth}`}
        </button>
      </div>
    </fieldset>
  );
}
