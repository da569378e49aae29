// Every deployment the viewer may read (GET /api/v1/deployments), read
// again 5 s after each answer while the page is visible (usePoll: a failed
// read keeps the list and says so above it): what it follows, the versions
// serving it, the traffic split, requests per second and p99 latency over
// the last minute, and errors. Any signed-in user may create one (the
// server checks READ on the model named, and refuses otherwise).

import { useState } from 'preact/hooks';
import { ApiError } from '../api/client';
import { createDeployment, deploymentPath, listDeployments, readyVersion, type Deployment } from '../api/deployments';
import { ConfirmDialog } from '../components/confirm_dialog';
import { ErrorBox, Loading } from '../components/error_box';
import { formatNumber, formatTime } from '../lib/format';
import { useViewer } from '../lib/session';
import { usePoll } from '../lib/use_ticker';
import { Link, navigate } from '../router';

// Over data a poll could not refresh: what failed and how old the data is.
export function StaleNotice({ error, updated, what }: { error: unknown; updated: number; what: string }) {
  if (!error) return null;
  const reason = error instanceof ApiError ? `${error.errorCode} ${error.message}` : String(error);
  return (
    <p class="muted stale-notice" role="status" data-testid="stale-notice">
      Could not read {what} again ({reason}); showing what was read at {formatTime(updated)}, trying again.
    </p>
  );
}

// "v3", or "v3 → canary v4 (10%)", and "+ shadow v5".
export function servingSummary(d: Deployment): string {
  const primary = readyVersion(d, 'primary');
  const canary = readyVersion(d, 'canary');
  const shadow = readyVersion(d, 'shadow');
  const parts = [primary ? `${primary.model_name} v${primary.version}` : 'nothing yet'];
  if (canary) parts.push(`canary v${canary.version}`);
  if (shadow) parts.push(`shadow v${shadow.version}`);
  return parts.join(' · ');
}

// "100% v3", or "90% v3 / 10% v4".
export function trafficSplit(d: Deployment): string {
  const primary = readyVersion(d, 'primary');
  const canary = readyVersion(d, 'canary');
  if (!primary) return '';
  if (!canary || d.canary_weight <= 0) return `100% v${primary.version}`;
  return `${100 - d.canary_weight}% v${primary.version} / ${d.canary_weight}% v${canary.version}`;
}

// Requests answered per second over the last minute (primary and canary; a
// shadow's copies are not requests of their own).
function recentRate(d: Deployment): number | undefined {
  const answering = d.versions.filter((v) => v.state === 'ready' && v.role !== 'shadow' && v.recent);
  if (!answering.length) return undefined;
  return answering.reduce((sum, v) => sum + (v.recent?.requests_per_s ?? 0), 0);
}

function recentP99(d: Deployment): number | undefined {
  const figures = d.versions
    .filter((v) => v.state === 'ready' && v.role !== 'shadow' && (v.recent?.requests ?? 0) > 0)
    .map((v) => v.recent!.latency_p99_ms);
  return figures.length ? Math.max(...figures) : undefined;
}

function problems(d: Deployment): string {
  return d.versions
    .filter((v) => v.state !== 'ready')
    .map((v) => `${v.role} ${v.state}`)
    .join(', ');
}

export function DeploymentsPage() {
  const viewer = useViewer();
  const [creating, setCreating] = useState(false);
  const deployments = usePoll((signal) => listDeployments(signal), [], 5000);
  const mayCreate = !viewer.auth || viewer.user !== null;
  const list = deployments.data;

  return (
    <section class="deployments-page">
      <h1>Deployments</h1>
      <div class="toolbar">
        <span class="count" data-testid="deployment-count">
          {list ? `${list.length} deployment${list.length === 1 ? '' : 's'}` : ''}
        </span>
        {mayCreate && (
          <button type="button" onClick={() => setCreating(true)}>
            New deployment…
          </button>
        )}
      </div>
      {list ? (
        <StaleNotice error={deployments.error} updated={deployments.updated} what="the deployments" />
      ) : (
        <ErrorBox error={deployments.error} />
      )}
      {!list ? (
        !deployments.error && <Loading what="deployments" />
      ) : list.length === 0 ? (
        <p class="muted">No deployments you may read. A deployment serves a registered model: create one to start.</p>
      ) : (
        <table class="kv deployments" data-testid="deployments-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Model</th>
              <th>Serving</th>
              <th>Traffic</th>
              <th class="num">req/s (1 min)</th>
              <th class="num">p99 ms (1 min)</th>
              <th class="num">Errors</th>
              <th>State</th>
            </tr>
          </thead>
          <tbody>
            {list.map((d) => {
              const rate = recentRate(d);
              const p99 = recentP99(d);
              const errors = d.versions.reduce((sum, v) => sum + (v.errors ?? 0), 0);
              const trouble = problems(d);
              return (
                <tr key={d.name} data-deployment={d.name}>
                  <td>
                    <Link href={deploymentPath(d.name)} class="deployment-name">
                      {d.name}
                    </Link>
                  </td>
                  <td>
                    <code>{d.model_uri}</code>
                    {d.pinned_version && <span class="muted"> (pinned to v{d.pinned_version})</span>}
                  </td>
                  <td data-testid="serving">{servingSummary(d)}</td>
                  <td>{trafficSplit(d)}</td>
                  <td class="num">{rate === undefined ? '' : formatNumber(Number(rate.toFixed(2)))}</td>
                  <td class="num">{p99 === undefined ? '' : formatNumber(p99)}</td>
                  <td class="num">{errors}</td>
                  <td class={trouble ? 'state-bad' : 'state-ok'}>{trouble || 'ready'}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {creating && (
        <CreateDialog
          onDone={(name) => {
            setCreating(false);
            navigate(deploymentPath(name));
          }}
          onCancel={() => setCreating(false)}
        />
      )}
    </section>
  );
}

function CreateDialog(props: { onDone: (name: string) => void; onCancel: () => void }) {
  const [name, setName] = useState('');
  const [uri, setUri] = useState('');
  const ready = name.trim() !== '' && uri.trim() !== '';
  return (
    <ConfirmDialog
      title="New deployment"
      confirmLabel="Create deployment"
      ready={ready}
      action={() => createDeployment(name.trim(), uri.trim())}
      onDone={() => props.onDone(name.trim())}
      onCancel={props.onCancel}
    >
      <label>
        Name
        <input name="name" autocomplete="off" value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="churn" />
      </label>
      <label>
        Model URI
        <input
          name="model_uri"
          autocomplete="off"
          value={uri}
          onInput={(e) => setUri(e.currentTarget.value)}
          placeholder="models:/churn@production"
        />
      </label>
      <p class="muted">
        Serves the version the reference names (<code>models:/NAME@ALIAS</code>, <code>models:/NAME/VERSION</code> or{' '}
        <code>models:/NAME/STAGE</code>) at <code>/deployments/{name.trim() || 'NAME'}/invocations</code>, and follows it
        when it moves.
      </p>
    </ConfirmDialog>
  );
}
