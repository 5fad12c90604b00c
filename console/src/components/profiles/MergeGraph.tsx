// The merge history as a graph: each profile a node, each merge an arrow from the profile that
// was merged away to the one it joined, labelled with the identifiers that linked them.
// React Flow is heavy, so only this module imports it (Profile.tsx loads it lazily).
import { Background, Controls, MarkerType, Position, ReactFlow, type Edge, type Node } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import type { Merge } from "./profileApi";

const short = (id: string) => (id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id);

/** Left to right by merge depth: a profile sits one column left of the one it merged into. */
function layout(merges: Merge[], current: string): { nodes: Node[]; edges: Edge[] } {
  const into = new Map(merges.map((m) => [m.from_profile, m.into_profile]));
  const ids = new Set<string>([current]);
  merges.forEach((m) => {
    ids.add(m.from_profile);
    ids.add(m.into_profile);
  });
  const depth = (id: string): number => {
    let steps = 0;
    for (let at = into.get(id); at !== undefined && steps < ids.size; at = into.get(at)) steps++;
    return steps;
  };
  const deepest = Math.max(0, ...[...ids].map(depth));
  const rows = new Map<number, number>();
  const nodes: Node[] = [...ids].map((id) => {
    const column = deepest - depth(id);
    const row = rows.get(column) ?? 0;
    rows.set(column, row + 1);
    const survivor = !into.has(id);
    return {
      id,
      position: { x: column * 560, y: row * 110 },
      // Arrows run left to right, from the merged-away profile into the one that kept it.
      sourcePosition: Position.Right,
      targetPosition: Position.Left,
      data: { label: survivor ? `${short(id)} (this profile)` : short(id) },
      className: survivor ? "merge-node survivor" : "merge-node",
      ariaLabel: survivor ? `profile ${id}, the merged profile` : `profile ${id}`,
    };
  });
  const edges: Edge[] = merges.map((m) => ({
    id: `merge-${m.merge_id}`,
    source: m.from_profile,
    target: m.into_profile,
    label: m.identifiers.join(", "),
    labelBgPadding: [6, 3] as [number, number],
    labelBgBorderRadius: 4,
    markerEnd: { type: MarkerType.ArrowClosed },
    ariaLabel: `merge ${m.merge_id}: ${m.identifiers.join(", ")}`,
  }));
  return { nodes, edges };
}

export default function MergeGraph({ merges, current }: { merges: Merge[]; current: string }) {
  const { nodes, edges } = layout(merges, current);
  return (
    <div className="merge-graph" role="figure" aria-label="Merge history graph">
      <ReactFlow
        nodes={nodes}
        edges={edges}
        fitView
        fitViewOptions={{ maxZoom: 1, padding: 0.2 }}
        nodesConnectable={false}
        nodesDraggable={false}
        elementsSelectable={false}
        proOptions={{ hideAttribution: true }}
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
