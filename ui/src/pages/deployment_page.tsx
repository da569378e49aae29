// One deployment: the versions serving it (state, traffic share, totals
// since each was loaded, and the error of a version that failed to load),
// its request rate, error rate and latency per version over the last hour
// as charts (GET /api/v1/deployments/{name}/metrics, the server's 5-second
// samples, read again 5 s after each answer while the page is visible), and
// its swap history. Both are polled with usePoll: a read that fails keeps
// what was shown and says so in a small notice. Set a canary, promote it,
// set or remove a shadow, roll back and delete, each after a ConfirmDialog.
// The actions show only to a viewer whose permission allows them (asked of
// the server: EDIT on the deployment, MANAGE to delete, EDIT on the model to
// move its alias); the server decides still, and its refusal is shown in the
// dialog.

import { useEffect, useMemo, useState } from 'preact/hooks';
import {
  allows,
  deleteDeployment,
  getDeployment,
  getRateHistory,
  myPermission,
  parseModelUri,
  readyVersion,
  rollbackDeployment,
  updateDeployment,
  type Deployment,
  type DeploymentVersion,
  type PermissionName,
  promoteDeployment,
  type RateSample,
} from '../api/deployments';
import { monitoringPath } from '../api/monitoring';
import { Chart, type ChartSeries } from '../components/chart';
import { ConfirmDialog } from '../components/confirm_dialog';
import { ErrorBox, Loading } from '../components/error_box';
import { formatNumber, formatTime } from '../lib/format';
import { useViewer } from '../lib/session';
import { useAsync } from '../lib/use_async';
import { usePoll, type Poll } from '../lib/use_ticker';
import { Link, navigate } from '../router';
import { StaleNotice } from './deployments_page';
import { modelPath } from './models_page';

const HOUR_MS = 3600 * 1000;

type Dialog = 'canary' | 'promote' | 'shadow' | 'unshadow' | 'rollback' | 'delete' | null;

// Keyed by name: what one deployment's page read never shows on another's.
export function DeploymentPage({ name }: { name: string }) {
  return <DeploymentView key={name} name={name} />;
}

function DeploymentView({ name }: { name: string }) {
  const [revision, setRevision] = useState(0);
  const [dialog, setDialog] = useState<Dialog>(null);
  // Read every second for a while after a change, and while a version
  // loads, so a swap shows as it happens; every 5 s otherwise.
  const [fastUntil, setFastUntil] = useState(0);
  const [versionLoading, setVersionLoading] = useState(false);
  const fast = Date.now() < fastUntil || versionLoading;
  const read = usePoll((signal) => getDeployment(name, signal), [name, revision], fast ? 1000 : 5000);
  useEffect(() => {
    setVersionLoading(read.data?.versions.some((v) => v.state === 'loading') ?? false);
  }, [read.data]);
  const history = useRateHistory(name);
  const d = read.data;
  const can = usePermissions(name, d);

  const changed = () => {
    setDialog(null);
    setFastUntil(Date.now() + 15000);
    setRevision((r) => r + 1);
  };

  return (
    <section class="deployment-page">
      <div class="crumbs">
        <Link href="/deployments">Deployments</Link> /
      </div>
      <h1 data-testid="deployment-name">{name}</h1>
      {!d ? (
        read.error ? <ErrorBox error={read.error} title="Deployment" /> : <Loading what="deployment" />
      ) : (
        <>
          <StaleNotice error={read.error} updated={read.updated} what="the deployment" />
          <Overview d={d} />
          <Actions d={d} can={can} open={setDialog} />
          <div class="panel" data-testid="versions">
            <h2>Versions and traffic</h2>
            <TrafficBar d={d} />
            <VersionsTable d={d} />
          </div>
          <RateCharts history={history} />
          <SwapHistory d={d} />
          {dialog && <ActionDialog kind={dialog} d={d} onDone={changed} onCancel={() => setDialog(null)} />}
        </>
      )}
    </section>
  );
}

function Overview({ d }: { d: Deployment }) {
  return (
    <dl class="overview" data-testid="deployment-overview">
      <dt>Follows</dt>
      <dd>
        <code data-testid="model-uri">{d.model_uri}</code>
        {d.pinned_version && <span class="muted"> pinned to v{d.pinned_version} by a rollback, until the reference moves</span>}
      </dd>
      <dt>Canary</dt>
      <dd>{d.canary_uri ? <><code>{d.canary_uri}</code> ({d.canary_weight}% of requests)</> : <span class="muted">none</span>}</dd>
      <dt>Shadow</dt>
      <dd>{d.shadow_uri ? <><code>{d.shadow_uri}</code> (a copy of every request; answers discarded)</> : <span class="muted">none</span>}</dd>
      <dt>Invoke</dt>
      <dd>
        <code>POST /deployments/{d.name}/invocations</code>, <code>/v2/models/{d.name}/infer</code>
      </dd>
      <dt>Created</dt>
      <dd>
        {formatTime(d.creation_time)} by {d.created_by || 'unknown'}
      </dd>
      <dt>Monitoring</dt>
      <dd>
        <Link href={monitoringPath(d.name)} data-testid="monitoring-link">
          Drift, live accuracy and alerts
        </Link>
      </dd>
      <dt>In flight</dt>
      <dd>
        {d.in_flight} of at most {d.max_queued}
        {d.shadow_dropped > 0 && <span class="muted"> · {d.shadow_dropped} shadow copies dropped</span>}
      </dd>
    </dl>
  );
}

// ------------------------------------------------------------ permissions

interface Can {
  known: boolean; // the server answered (or there is nothing to ask)
  held?: PermissionName; // on the deployment, when asked
  edit: boolean;
  manage: boolean;
  editModel: boolean; // EDIT on the model whose alias the primary follows
  error: unknown;
}

function usePermissions(name: string, d: Deployment | undefined): Can {
  const viewer = useViewer();
  const everything = !viewer.auth || viewer.user?.is_admin === true;
  const username = viewer.user?.username ?? '';
  const model = d ? parseModelUri(d.model_uri)?.name ?? '' : '';
  const own = useAsync(
    (signal) => (everything ? Promise.resolve<PermissionName>('MANAGE') : myPermission(username, 'deployment', name, signal)),
    [name, everything, username],
  );
  const onModel = useAsync(
    (signal) =>
      everything || !model ? Promise.resolve<PermissionName>('MANAGE') : myPermission(username, 'registered_model', model, signal),
    [model, everything, username],
  );
  const held = own.data;
  return {
    known: held !== undefined,
    held: everything ? undefined : held,
    edit: held !== undefined && allows(held, 'EDIT'),
    manage: held !== undefined && allows(held, 'MANAGE'),
    editModel: onModel.data !== undefined && allows(onModel.data, 'EDIT'),
    error: own.error,
  };
}

// Whether the version served before the last swap is of another model than
// the primary's URI names (a promoted canary of another model).
function otherModel(d: Deployment): boolean {
  return !!d.previous_model && d.previous_model !== parseModelUri(d.model_uri)?.name;
}

function previousOf(d: Deployment): string {
  return otherModel(d) ? `${d.previous_model} v${d.previous_version}` : `v${d.previous_version}`;
}

function Actions({ d, can, open }: { d: Deployment; can: Can; open: (dialog: Dialog) => void }) {
  if (can.error) return <ErrorBox error={can.error} title="Your permissions could not be read" />;
  if (!can.known) return null;
  const canary = readyVersion(d, 'canary');
  const primaryRef = parseModelUri(d.model_uri);
  const viaAlias = !!(canary && primaryRef?.alias && primaryRef.name === canary.model_name);
  const rollbackWhat = d.canary_uri ? 'removes the canary' : d.previous_version ? `returns to ${previousOf(d)}` : '';
  if (!can.edit && !can.manage) {
    return (
      <p class="muted permission-note" data-testid="permission-note">
        You may look at this deployment; changing it needs EDIT on it (you have {can.held ?? 'READ'}).
      </p>
    );
  }
  return (
    <div class="toolbar deployment-actions" data-testid="deployment-actions">
      {can.edit && (
        <>
          <button type="button" onClick={() => open('canary')}>
            {d.canary_uri ? 'Change canary…' : 'Set canary…'}
          </button>
          {canary && (
            <button
              type="button"
              onClick={() => open('promote')}
              disabled={viaAlias && !can.editModel}
              title={viaAlias && !can.editModel ? `Moving @${primaryRef?.alias} needs EDIT on ${primaryRef?.name}` : undefined}
            >
              Promote canary…
            </button>
          )}
          <button type="button" onClick={() => open('shadow')}>
            {d.shadow_uri ? 'Change shadow…' : 'Set shadow…'}
          </button>
          {d.shadow_uri && (
            <button type="button" onClick={() => open('unshadow')}>
              Remove shadow…
            </button>
          )}
          <button
            type="button"
            onClick={() => open('rollback')}
            disabled={!rollbackWhat}
            title={rollbackWhat ? `Roll back: ${rollbackWhat}` : 'Nothing to roll back to: no canary and no earlier version served'}
          >
            Roll back…
          </button>
        </>
      )}
      {can.manage && (
        <button type="button" class="danger" onClick={() => open('delete')}>
          Delete…
        </button>
      )}
    </div>
  );
}

// ---------------------------------------------------------------- dialogs

function ActionDialog({ kind, d, onDone, onCancel }: { kind: Exclude<Dialog, null>; d: Deployment; onDone: () => void; onCancel: () => void }) {
  switch (kind) {
    case 'canary':
      return <CanaryDialog d={d} onDone={onDone} onCancel={onCancel} />;
    case 'promote':
      return <PromoteDialog d={d} onDone={onDone} onCancel={onCancel} />;
    case 'shadow':
      return <ShadowDialog d={d} onDone={onDone} onCancel={onCancel} />;
    case 'unshadow':
      return (
        <ConfirmDialog
          title="Remove the shadow"
          confirmLabel="Remove shadow"
          action={() => updateDeployment(d.name, { shadow_uri: '' })}
          onDone={onDone}
          onCancel={onCancel}
        >
          <p>
            Stop copying the requests of <strong>{d.name}</strong> to <code>{d.shadow_uri}</code>? Answers to clients do
            not change.
          </p>
        </ConfirmDialog>
      );
    case 'rollback':
      return (
        <ConfirmDialog title="Roll back" confirmLabel="Roll back" danger action={() => rollbackDeployment(d.name)} onDone={onDone} onCancel={onCancel}>
          {d.canary_uri ? (
            <p>
              Remove the canary <code>{d.canary_uri}</code> of <strong>{d.name}</strong>: all requests go to the primary again.
            </p>
          ) : otherModel(d) ? (
            <p>
              Serve {previousOf(d)} again (the one served before the last swap): the primary follows{' '}
              <code>{`models:/${d.previous_model}/${d.previous_version}`}</code> instead of <code>{d.model_uri}</code>.
            </p>
          ) : (
            <p>
              Serve version {d.previous_version} again (the one served before the last swap), pinned until{' '}
              <code>{d.model_uri}</code> moves again or the deployment is updated.
            </p>
          )}
        </ConfirmDialog>
      );
    case 'delete':
      return (
        <ConfirmDialog
          title={`Delete ${d.name}`}
          confirmLabel="Delete deployment"
          danger
          action={() => deleteDeployment(d.name)}
          onDone={() => navigate('/deployments')}
          onCancel={onCancel}
        >
          <p>
            Stop serving <strong>{d.name}</strong> and forget it? Clients of <code>/deployments/{d.name}/invocations</code> get
            404 from now on. The registered model and its versions stay.
          </p>
        </ConfirmDialog>
      );
  }
}

interface DialogProps {
  d: Deployment;
  onDone: () => void;
  onCancel: () => void;
}

function CanaryDialog({ d, onDone, onCancel }: DialogProps) {
  const [uri, setUri] = useState(d.canary_uri);
  const [weight, setWeight] = useState(String(d.canary_uri ? d.canary_weight : 10));
  const percent = Number(weight);
  const ready = uri.trim() !== '' && weight.trim() !== '' && Number.isInteger(percent);
  const ref = parseModelUri(d.model_uri);
  return (
    <ConfirmDialog
      title={d.canary_uri ? 'Change the canary' : 'Set a canary'}
      confirmLabel="Set canary"
      ready={ready}
      action={() => updateDeployment(d.name, { canary_uri: uri.trim(), canary_weight: percent })}
      onDone={onDone}
      onCancel={onCancel}
    >
      <label>
        Canary model URI
        <input
          name="canary_uri"
          autocomplete="off"
          value={uri}
          onInput={(e) => setUri(e.currentTarget.value)}
          placeholder={`models:/${ref?.name ?? 'NAME'}@candidate`}
        />
      </label>
      <label>
        Share of requests (%)
        <input name="canary_weight" type="number" min={0} max={100} step={1} value={weight} onInput={(e) => setWeight(e.currentTarget.value)} />
      </label>
      <p class="muted">
        {ready ? `${percent}%` : 'A share'} of the requests of <strong>{d.name}</strong> go to the canary once it has loaded
        and answered its input example; the rest stay on the primary. The same <code>X-Slipway-Route-Key</code> always
        lands on the same side.
      </p>
    </ConfirmDialog>
  );
}

function PromoteDialog({ d, onDone, onCancel }: DialogProps) {
  const canary = readyVersion(d, 'canary')!;
  const ref = parseModelUri(d.model_uri);
  // What the server does (POST .../promote, one step): moves the alias the
  // primary follows when it is one of the canary's model, else points the
  // primary at the canary's version; the canary goes either way.
  const viaAlias = !!(ref?.alias && ref.name === canary.model_name);
  const target = `models:/${canary.model_name}/${canary.version}`;
  return (
    <ConfirmDialog
      title="Promote the canary"
      confirmLabel="Promote"
      action={() => promoteDeployment(d.name)}
      onDone={onDone}
      onCancel={onCancel}
    >
      {viaAlias ? (
        <p>
          Point the alias <code>@{ref!.alias}</code> of <strong>{ref!.name}</strong> at version {canary.version} (the
          canary's) and remove the canary: <strong>{d.name}</strong> follows the alias and swaps to v{canary.version}{' '}
          once it is loaded. Every other deployment and client that loads <code>{d.model_uri}</code> gets version{' '}
          {canary.version} too. Roll back returns to the version served now.
        </p>
      ) : (
        <p>
          Serve <code>{target}</code> (the canary's version) as the primary of <strong>{d.name}</strong> instead of{' '}
          <code>{d.model_uri}</code>, and remove the canary. Roll back returns to the version served now.
        </p>
      )}
    </ConfirmDialog>
  );
}

function ShadowDialog({ d, onDone, onCancel }: DialogProps) {
  const [uri, setUri] = useState(d.shadow_uri);
  const ref = parseModelUri(d.model_uri);
  return (
    <ConfirmDialog
      title={d.shadow_uri ? 'Change the shadow' : 'Set a shadow'}
      confirmLabel="Set shadow"
      ready={uri.trim() !== ''}
      action={() => updateDeployment(d.name, { shadow_uri: uri.trim() })}
      onDone={onDone}
      onCancel={onCancel}
    >
      <label>
        Shadow model URI
        <input
          name="shadow_uri"
          autocomplete="off"
          value={uri}
          onInput={(e) => setUri(e.currentTarget.value)}
          placeholder={`models:/${ref?.name ?? 'NAME'}@candidate`}
        />
      </label>
      <p class="muted">
        Every request of <strong>{d.name}</strong> is copied to the shadow in the background; its answers go to the
        prediction log only, never to the client, and a busy shadow never slows the primary.
      </p>
    </ConfirmDialog>
  );
}

// ------------------------------------------------------- versions, traffic

function shareOf(d: Deployment, v: DeploymentVersion): string {
  if (v.state !== 'ready') return '';
  const canary = readyVersion(d, 'canary');
  const weight = canary ? d.canary_weight : 0;
  if (v.role === 'primary') return `${100 - weight}%`;
  if (v.role === 'canary') return `${weight}%`;
  return 'copy of 100%';
}

function TrafficBar({ d }: { d: Deployment }) {
  const primary = readyVersion(d, 'primary');
  const canary = readyVersion(d, 'canary');
  const shadow = readyVersion(d, 'shadow');
  if (!primary) return <p class="muted">No version is serving yet.</p>;
  const weight = canary ? d.canary_weight : 0;
  return (
    <div class="traffic" data-testid="traffic-split">
      <div class="traffic-bar">
        {weight < 100 && (
          <div class="traffic-primary" style={{ width: `${100 - weight}%` }}>
            v{primary.version} · {100 - weight}%
          </div>
        )}
        {canary && weight > 0 && (
          <div class="traffic-canary" style={{ width: `${weight}%` }}>
            v{canary.version} · {weight}%
          </div>
        )}
      </div>
      {shadow && <div class="muted traffic-shadow">shadow v{shadow.version} sees a copy of every request</div>}
    </div>
  );
}

function VersionsTable({ d }: { d: Deployment }) {
  return (
    <table class="kv" data-testid="versions-table">
      <thead>
        <tr>
          <th>Role</th>
          <th>Version</th>
          <th>State</th>
          <th>Traffic</th>
          <th>Since</th>
          <th class="num">Requests</th>
          <th class="num">Errors</th>
          <th class="num">p50 / p99 ms</th>
          <th class="num">req/s (1 min)</th>
        </tr>
      </thead>
      <tbody>
        {d.versions.map((v) => (
          <tr key={`${v.role}/${v.state}`} data-role={v.role} data-state={v.state} class={v.state === 'failed' ? 'failed' : ''}>
            <td>{v.role}</td>
            <td>
              {v.model_name && v.version ? (
                <Link href={modelPath(v.model_name, v.version)}>
                  {v.model_name} v{v.version}
                </Link>
              ) : (
                <span class="muted">unresolved</span>
              )}
            </td>
            <td>
              <span class={`state ${v.state}`}>{v.state}</span>
              {v.error && (
                <div class="load-error" data-testid="load-error">
                  {v.error}
                </div>
              )}
            </td>
            <td>{shareOf(d, v)}</td>
            <td>{formatTime(v.time)}</td>
            <td class="num" data-testid="requests">
              {v.state === 'ready' ? v.requests ?? 0 : ''}
            </td>
            <td class="num">{v.state === 'ready' ? v.errors ?? 0 : ''}</td>
            <td class="num">{v.requests ? `${formatNumber(v.latency_p50_ms)} / ${formatNumber(v.latency_p99_ms)}` : ''}</td>
            <td class="num">{v.recent ? formatNumber(Number(v.recent.requests_per_s.toFixed(2))) : ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

// ----------------------------------------------------------------- charts

// The server's samples of the last hour: all of them first, then, 5 s
// after each answer (while the page is visible), those after the newest one
// held. A failed read keeps the samples held.
function useRateHistory(name: string) {
  return usePoll<RateSample[]>(
    async (signal, held = []) => {
      const newest = held.length ? held[held.length - 1].time : 0;
      const reply = await getRateHistory(name, newest, signal);
      const fresh = reply.samples.filter((s) => s.time > newest);
      if (!fresh.length) return held;
      const last = fresh[fresh.length - 1].time;
      return [...held, ...fresh].filter((s) => s.time > last - HOUR_MS);
    },
    [name],
    5000,
  );
}

interface Series {
  requests: ChartSeries[];
  errors: ChartSeries[];
  latency: ChartSeries[];
  answered: number; // requests answered (primary and canary) in the samples
  points: number;
}

function buildSeries(samples: RateSample[]): Series {
  // Every series on every sample's time (null where a version did not
  // serve), so the three charts share one time axis.
  const labels: string[] = [];
  for (const sample of samples)
    for (const v of sample.versions) {
      const label = `${v.role} v${v.version}`;
      if (!labels.includes(label)) labels.push(label);
    }
  const x = samples.map((s) => s.time / 1000);
  const column = () => labels.map(() => new Array<number | null>(samples.length).fill(null));
  const [req, err, p50, p99] = [column(), column(), column(), column()];
  let answered = 0;
  samples.forEach((sample, i) => {
    for (const v of sample.versions) {
      const k = labels.indexOf(`${v.role} v${v.version}`);
      req[k][i] = v.requests_per_s;
      err[k][i] = v.errors_per_s;
      // An interval without requests has no latency (not 0 ms).
      if (v.requests > 0) {
        p50[k][i] = v.latency_p50_ms;
        p99[k][i] = v.latency_p99_ms;
      }
      if (v.role !== 'shadow') answered += v.requests;
    }
  });
  return {
    requests: labels.map((label, k) => ({ label, x, y: req[k] })),
    errors: labels.map((label, k) => ({ label, x, y: err[k] })),
    latency: labels.flatMap((label, k) => [
      { label: `p50 ${label}`, x, y: p50[k] },
      { label: `p99 ${label}`, x, y: p99[k] },
    ]),
    answered,
    points: samples.length,
  };
}

function RateCharts({ history }: { history: Poll<RateSample[]> }) {
  const samples = useMemo(() => history.data ?? [], [history.data]);
  const loaded = history.data !== undefined;
  const series = useMemo(() => buildSeries(samples), [samples]);
  // The first interval may be shorter (it starts when a version loaded).
  const first = samples.length ? samples[0].time - Math.max(0, ...samples[0].versions.map((v) => v.seconds)) * 1000 : 0;
  const last = samples.length ? samples[samples.length - 1].time : 0;
  return (
    <div class="panel" data-testid="rate-charts">
      <h2>Traffic over the last hour</h2>
      {loaded ? (
        <StaleNotice error={history.error} updated={history.updated} what="the rate history" />
      ) : (
        <ErrorBox error={history.error} title="Rate history" />
      )}
      {!loaded ? (
        !history.error && <Loading what="rate history" />
      ) : samples.length < 2 ? (
        <p class="muted" data-testid="no-samples">
          {samples.length === 0 ? 'No samples yet' : 'One sample so far'}: the server samples every 5 seconds while a
          version serves, and the charts start with the second.
        </p>
      ) : (
        <>
          <p class="muted">
            <span data-testid="charted-requests">{series.answered}</span> requests answered from {formatTime(first)} to{' '}
            {formatTime(last)} ({samples.length} samples of 5 s; a shadow's copies not counted).
          </p>
          <div class="deployment-charts">
            <RateChart title="Requests per second" testId="chart-requests" series={series.requests} points={series.points} />
            <RateChart title="Errors per second" testId="chart-errors" series={series.errors} points={series.points} />
            <RateChart title="Latency (ms, p50 and p99)" testId="chart-latency" series={series.latency} points={series.points} />
          </div>
        </>
      )}
    </div>
  );
}

function RateChart({ title, testId, series, points }: { title: string; testId: string; series: ChartSeries[]; points: number }) {
  return (
    <div class="rate-chart" data-testid={testId} data-points={points}>
      <h3>{title}</h3>
      <Chart series={series} xMode="time" logY={false} smoothing={0} height={200} />
    </div>
  );
}

// ------------------------------------------------------------ swap history

function SwapHistory({ d }: { d: Deployment }) {
  const events = [...d.events].reverse();
  return (
    <div class="panel" data-testid="swap-history">
      <h2>Swap history</h2>
      {events.length === 0 ? (
        <p class="muted">Nothing yet.</p>
      ) : (
        <ol class="timeline">
          {events.map((e, i) => (
            <li key={`${e.time}/${i}`} class={/not loaded|failed/.test(e.text) ? 'bad' : /now serves|rolled back/.test(e.text) ? 'swap' : ''}>
              <time>{formatTime(e.time)}</time> <span class="event-text">{e.text}</span>
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
