// One model version: what it is (stage, aliases, status, source and its
// run), its lineage from /api/v1/lineage/model-versions (dataset → run →
// logged model → version), and the deployments serving it (from
// /api/v1/deployments, those the viewer may read) drawn as a graph, and its model card
// (/api/v1/models/{name}/versions/{version}/card). Both show only what the
// viewer may read; what the server withheld is listed. Below them, the
// version's files as a tree with previews (`?artifact=<path>`), as on a run's page.

import type { ComponentChildren } from 'preact';
import { listDeployments, type Deployment } from '../api/deployments';
import { cardUrl, getLineage, getModelCard, type Lineage, type ModelCard, type ModelVersion } from '../api/registry';
import { ModelVersionFiles } from '../components/artifact_tree';
import { ErrorBox, Loading } from '../components/error_box';
import { LineageGraph, type ServingDeployment } from '../components/lineage_graph';
import { formatNumber, formatTime } from '../lib/format';
import { useAsync } from '../lib/use_async';
import { Link } from '../router';
import { modelPath } from './models_page';

export function ModelVersionPage({ name, version }: { name: string; version: string }) {
  const lineage = useAsync((signal) => getLineage(name, version, signal), [name, version]);
  const card = useAsync((signal) => getModelCard(name, version, signal), [name, version]);
  const deployments = useAsync((signal) => listDeployments(signal), []);
  const serving = servingThis(deployments.data ?? [], name, version);
  return (
    <section class="model-version-page">
      <div class="crumbs">
        <Link href="/models">Models</Link> / <Link href={modelPath(name)}>{name}</Link> /
      </div>
      <h1 data-testid="version-title">
        {name} version {version}
      </h1>
      {lineage.error ? (
        <ErrorBox error={lineage.error} title="Lineage" />
      ) : !lineage.data ? (
        <Loading what="lineage" />
      ) : (
        <>
          <VersionOverview version={lineage.data.model_version} lineage={lineage.data} />
          <div class="panel" data-testid="lineage">
            <h2>Lineage</h2>
            <div class="scroll-x">
              <LineageGraph lineage={lineage.data} deployments={serving} />
            </div>
            <ErrorBox error={deployments.error} title="Deployments" />
            <LineageFacts lineage={lineage.data} />
          </div>
          <div class="panel">
            <h2>Files</h2>
            <ModelVersionFiles version={lineage.data.model_version} />
          </div>
        </>
      )}
      <div class="panel" data-testid="model-card">
        <h2>
          Model card{' '}
          <a class="small-link" href={`${cardUrl(name, version)}?format=markdown`} download={`${name}-v${version}-card.md`}>
            Markdown
          </a>
        </h2>
        {card.error ? <ErrorBox error={card.error} title="Model card" /> : card.data ? <CardView card={card.data} /> : <Loading what="card" />}
      </div>
    </section>
  );
}

// The deployments whose primary, canary or shadow serves this version now.
function servingThis(deployments: Deployment[], name: string, version: string): ServingDeployment[] {
  const out: ServingDeployment[] = [];
  for (const d of deployments) {
    const roles = d.versions
      .filter((v) => v.state === 'ready' && v.model_name === name && v.version === version)
      .map((v) => (v.role === 'canary' ? `canary ${d.canary_weight}%` : v.role));
    if (roles.length) out.push({ name: d.name, roles });
  }
  return out;
}

function VersionOverview({ version, lineage }: { version: ModelVersion; lineage: Lineage }) {
  const run = lineage.run?.info;
  return (
    <dl class="overview" data-testid="version-overview">
      <dt>Stage</dt>
      <dd>{version.current_stage}</dd>
      <dt>Aliases</dt>
      <dd data-testid="version-aliases">
        {(version.aliases ?? []).length ? (version.aliases ?? []).map((a) => `@${a}`).join(', ') : <span class="muted">none</span>}
      </dd>
      <dt>Status</dt>
      <dd>{version.status}</dd>
      <dt>Source</dt>
      <dd>
        <code>{version.source}</code>
      </dd>
      <dt>Source run</dt>
      <dd>
        {run ? (
          <Link href={`/experiments/${encodeURIComponent(run.experiment_id)}/runs/${encodeURIComponent(run.run_id)}`}>
            {run.run_name || run.run_id}
          </Link>
        ) : version.run_id ? (
          <code>{version.run_id}</code>
        ) : (
          <span class="muted">none</span>
        )}
      </dd>
      <dt>Created</dt>
      <dd>{formatTime(version.creation_timestamp)}</dd>
      <dt>Last update</dt>
      <dd>{formatTime(version.last_updated_timestamp)}</dd>
      {version.user_id && (
        <>
          <dt>User</dt>
          <dd>{version.user_id}</dd>
        </>
      )}
      {version.description && (
        <>
          <dt>Description</dt>
          <dd>{version.description}</dd>
        </>
      )}
    </dl>
  );
}

function LineageFacts({ lineage }: { lineage: Lineage }) {
  const code = lineage.code;
  return (
    <>
      {(code.git_commit || code.source_name) && (
        <p>
          Code: {code.source_name && <code>{code.source_name}</code>}
          {code.git_commit && (
            <>
              {' '}
              at commit <code>{code.git_commit}</code>
            </>
          )}
        </p>
      )}
      {lineage.child_runs.length > 0 && (
        <p>
          Child runs of the training run:{' '}
          {lineage.child_runs.map((c, i) => (
            <span key={c.run_id}>
              {i > 0 && ', '}
              <Link href={`/runs/${encodeURIComponent(c.run_id)}`}>{c.run_name || c.run_id}</Link>
            </span>
          ))}
        </p>
      )}
      <Withheld items={lineage.withheld} />
    </>
  );
}

function Withheld({ items }: { items: string[] }) {
  if (!items.length) return null;
  return (
    <div class="withheld" data-testid="withheld">
      Withheld (you may not read it):
      <ul>
        {items.map((item) => (
          <li key={item}>{item}</li>
        ))}
      </ul>
    </div>
  );
}

function Pairs({ title, values, testId }: { title: string; values: Record<string, ComponentChildren>; testId?: string }) {
  const keys = Object.keys(values);
  if (!keys.length) return null;
  return (
    <div data-testid={testId}>
      <h3>{title}</h3>
      <table class="kv">
        <tbody>
          {keys.map((key) => (
            <tr key={key}>
              <th>{key}</th>
              <td>{values[key]}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function CardView({ card }: { card: ModelCard }) {
  const metrics: Record<string, ComponentChildren> = {};
  for (const [key, value] of Object.entries(card.metrics)) metrics[key] = typeof value === 'number' ? formatNumber(value) : value;
  return (
    <div class="card">
      <h3>Intended use</h3>
      <p>{card.intended_use || <span class="muted">Not described (the version's or the model's description).</span>}</p>
      {card.owners.length > 0 && <p>Owners: {card.owners.join(', ')}</p>}
      {card.training_data.length > 0 && (
        <div data-testid="card-training-data">
          <h3>Training data</h3>
          <table class="kv">
            <thead>
              <tr>
                <th>Dataset</th>
                <th>Digest</th>
                <th>Context</th>
                <th>Source</th>
              </tr>
            </thead>
            <tbody>
              {card.training_data.map((d) => (
                <tr key={`${d.name}/${d.digest}`}>
                  <td>{d.name}</td>
                  <td>
                    <code>{d.digest}</code>
                  </td>
                  <td>{d.context}</td>
                  <td>{d.source_type}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div class="columns">
        <Pairs title="Parameters" values={card.parameters} testId="card-parameters" />
        <Pairs title="Metrics" values={metrics} testId="card-metrics" />
      </div>
      <div class="columns">
        <Pairs title="Validation" values={card.validation} />
        <Pairs title="Approvals" values={card.approvals} />
      </div>
      <Withheld items={card.withheld} />
    </div>
  );
}
