// A model version's lineage drawn as a small graph in SVG (no library):
// the datasets the training run read → the run (its parent above it) → the
// logged model it wrote → the model version → the deployments serving it.
// Columns left to right, nodes stacked in each column, edges as curves
// with arrow heads. Runs and deployments link to their pages; what the
// viewer may not read is not drawn (the page lists what the server
// withheld).

import type { ComponentChildren } from 'preact';
import { deploymentPath } from '../api/deployments';
import type { Lineage } from '../api/registry';
import { navigate } from '../router';

const NODE_W = 210;
const NODE_H = 54;
const GAP_X = 70;
const GAP_Y = 18;
const PAD = 8;

interface Node {
  id: string;
  kind: 'dataset' | 'run' | 'parent' | 'model' | 'version' | 'deployment';
  title: string;
  detail: string;
  href?: string;
  column: number;
}

interface Edge {
  from: string;
  to: string;
  dashed?: boolean;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

// A deployment that serves the version, and as what ("primary", "canary 10%").
export interface ServingDeployment {
  name: string;
  roles: string[];
}

export function lineageNodes(lineage: Lineage, deployments: ServingDeployment[] = []): { nodes: Node[]; edges: Edge[] } {
  const nodes: Node[] = [];
  const edges: Edge[] = [];
  const run = lineage.run?.info;
  let column = 0;
  if (lineage.datasets.length) {
    lineage.datasets.forEach((d, i) =>
      nodes.push({
        id: `dataset:${i}`,
        kind: 'dataset',
        title: d.name,
        detail: [d.context, d.digest && `digest ${d.digest.slice(0, 8)}`].filter(Boolean).join(' · '),
        column,
      }),
    );
    column++;
  }
  if (run) {
    if (lineage.parent_run) {
      nodes.push({
        id: 'parent',
        kind: 'parent',
        title: lineage.parent_run.run_name || lineage.parent_run.run_id,
        detail: 'parent run',
        href: `/runs/${encodeURIComponent(lineage.parent_run.run_id)}`,
        column,
      });
      edges.push({ from: 'parent', to: 'run', dashed: true });
    }
    nodes.push({
      id: 'run',
      kind: 'run',
      title: run.run_name || run.run_id,
      detail: `run · ${run.status ?? ''}`.trim(),
      href: `/experiments/${encodeURIComponent(run.experiment_id)}/runs/${encodeURIComponent(run.run_id)}`,
      column,
    });
    lineage.datasets.forEach((_, i) => edges.push({ from: `dataset:${i}`, to: 'run' }));
    column++;
  }
  const logged = lineage.logged_model?.info;
  if (logged) {
    nodes.push({
      id: 'model',
      kind: 'model',
      title: logged.name || logged.model_id,
      detail: `logged model ${logged.model_id}`,
      column,
    });
    if (run) edges.push({ from: 'run', to: 'model' });
    column++;
  }
  const version = lineage.model_version;
  nodes.push({
    id: 'version',
    kind: 'version',
    title: `${version.name} v${version.version}`,
    detail: [version.current_stage, ...(version.aliases ?? []).map((a) => `@${a}`)].filter(Boolean).join(' · ') || 'model version',
    column,
  });
  if (logged) edges.push({ from: 'model', to: 'version' });
  else if (run) edges.push({ from: 'run', to: 'version' });
  column++;
  for (const deployment of deployments) {
    const id = `deployment:${deployment.name}`;
    nodes.push({
      id,
      kind: 'deployment',
      title: deployment.name,
      detail: `deployment · ${deployment.roles.join(', ')}`,
      href: deploymentPath(deployment.name),
      column,
    });
    edges.push({ from: 'version', to: id });
  }
  return { nodes, edges };
}

export function LineageGraph({ lineage, deployments }: { lineage: Lineage; deployments?: ServingDeployment[] }) {
  const { nodes, edges } = lineageNodes(lineage, deployments);
  const columns = Math.max(...nodes.map((n) => n.column)) + 1;
  const perColumn = new Map<number, Node[]>();
  for (const node of nodes) perColumn.set(node.column, [...(perColumn.get(node.column) ?? []), node]);
  const tallest = Math.max(...[...perColumn.values()].map((c) => c.length));
  const height = tallest * NODE_H + (tallest - 1) * GAP_Y + 2 * PAD;
  const width = columns * NODE_W + (columns - 1) * GAP_X + 2 * PAD;
  const place = new Map<string, { x: number; y: number }>();
  for (const [column, list] of perColumn) {
    const used = list.length * NODE_H + (list.length - 1) * GAP_Y;
    list.forEach((node, i) =>
      place.set(node.id, {
        x: PAD + column * (NODE_W + GAP_X),
        y: PAD + (height - 2 * PAD - used) / 2 + i * (NODE_H + GAP_Y),
      }),
    );
  }

  const paths: ComponentChildren[] = edges.map((edge) => {
    const a = place.get(edge.from)!;
    const b = place.get(edge.to)!;
    // Into the target's left side, or (parent above its child, one column) its top.
    const sameColumn = a.x === b.x;
    const x1 = sameColumn ? a.x + NODE_W / 2 : a.x + NODE_W;
    const y1 = sameColumn ? a.y + NODE_H : a.y + NODE_H / 2;
    const x2 = sameColumn ? b.x + NODE_W / 2 : b.x - 4;
    const y2 = sameColumn ? b.y - 4 : b.y + NODE_H / 2;
    const d = sameColumn
      ? `M${x1},${y1} L${x2},${y2}`
      : `M${x1},${y1} C${x1 + GAP_X / 2},${y1} ${x2 - GAP_X / 2},${y2} ${x2},${y2}`;
    return (
      <path
        key={`${edge.from}-${edge.to}`}
        d={d}
        class={`lineage-edge${edge.dashed ? ' dashed' : ''}`}
        marker-end="url(#lineage-arrow)"
        data-edge={`${edge.from}->${edge.to}`}
      />
    );
  });

  return (
    <svg
      class="lineage-graph"
      data-testid="lineage-graph"
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label="Lineage graph"
    >
      <defs>
        <marker id="lineage-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M0,0 L10,5 L0,10 z" class="lineage-arrow" />
        </marker>
      </defs>
      {paths}
      {nodes.map((node) => {
        const { x, y } = place.get(node.id)!;
        const open = node.href
          ? (event: MouseEvent) => {
              if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
              event.preventDefault();
              navigate(node.href!);
            }
          : undefined;
        const box = (
          <g class={`lineage-node ${node.kind}`} data-node={node.id} transform={`translate(${x},${y})`}>
            <title>{`${node.title}\n${node.detail}`}</title>
            <rect width={NODE_W} height={NODE_H} rx={6} />
            <text x={10} y={22} class="lineage-title">
              {clip(node.title, 27)}
            </text>
            <text x={10} y={41} class="lineage-detail">
              {clip(node.detail, 32)}
            </text>
          </g>
        );
        return node.href ? (
          <a key={node.id} href={node.href} onClick={open}>
            {box}
          </a>
        ) : (
          <g key={node.id}>{box}</g>
        );
      })}
    </svg>
  );
}
