// The shell: the session (sign-in with --auth), the top bar with the
// navigation and the signed-in user, and the page the path names.
//
// Adding a page: a component under pages/, a RouteDef below, a NAV entry if
// it is a section of its own, and (for a new top-level section) the section
// in the server's list (src/webui/asset_catalog.h, kClientSections) so a reload
// or a shared link of it is answered with this app.

import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from './api/client';
import { getSession, signOut, type Session, type SessionUser } from './api/session';
import { ErrorBox, Loading } from './components/error_box';
import { isAdmin, ViewerContext, type Viewer } from './lib/session';
import { AdminPage } from './pages/admin_page';
import { AuditPage } from './pages/audit_page';
import { ComparePage } from './pages/compare_page';
import { DatasetDiffPage, DatasetPage, DatasetsPage, DatasetVersionPage } from './pages/datasets';
import { DeploymentPage } from './pages/deployment_page';
import { DeploymentsPage } from './pages/deployments_page';
import { ExperimentsPage } from './pages/experiments_page';
import { ModelPage } from './pages/model_page';
import { MonitoringPage } from './pages/monitoring_page';
import { ModelVersionPage } from './pages/model_version_page';
import { ModelsPage } from './pages/models_page';
import { RunPage, RunRedirect } from './pages/run_page';
import { RunsPage } from './pages/runs_page';
import { SignInPage } from './pages/sign_in_page';
import { TrainingPage } from './pages/training_page';
import { TracePage } from './pages/trace_page';
import { TracesPage } from './pages/traces_page';
import { TokensPage } from './pages/tokens_page';
import { Link, resolve, useLocation, type RouteDef } from './router';

const ROUTES: RouteDef[] = [
  { pattern: '/', render: () => <ExperimentsPage /> },
  { pattern: '/experiments', render: () => <ExperimentsPage /> },
  { pattern: '/experiments/:id', render: (p, l) => <RunsPage key={p.id} experimentId={p.id} query={l.query} /> },
  { pattern: '/experiments/:id/runs/:runId', render: (p, l) => <RunPage runId={p.runId} query={l.query} /> },
  { pattern: '/experiments/:id/traces', render: (p, l) => <TracesPage key={p.id} experimentId={p.id} query={l.query} /> },
  {
    pattern: '/experiments/:id/traces/:traceId',
    render: (p, l) => <TracePage experimentId={p.id} traceId={p.traceId} query={l.query} />,
  },
  { pattern: '/runs/:runId', render: (p) => <RunRedirect runId={p.runId} /> },
  { pattern: '/runs/:runId/training', render: (p, l) => <TrainingPage key={p.runId} runId={p.runId} query={l.query} /> },
  { pattern: '/compare', render: (_, l) => <ComparePage query={l.query} /> },
  { pattern: '/models', render: () => <ModelsPage /> },
  { pattern: '/models/:name', render: (p) => <ModelPage key={p.name} name={p.name} /> },
  {
    pattern: '/models/:name/versions/:version',
    render: (p) => <ModelVersionPage key={`${p.name}/${p.version}`} name={p.name} version={p.version} />,
  },
  { pattern: '/datasets', render: () => <DatasetsPage /> },
  { pattern: '/datasets/:name', render: (p) => <DatasetPage key={p.name} name={p.name} /> },
  {
    pattern: '/datasets/:name/versions/:version',
    render: (p) => <DatasetVersionPage key={`${p.name}/${p.version}`} name={p.name} version={p.version} />,
  },
  { pattern: '/datasets/:name/diff', render: (p, l) => <DatasetDiffPage key={p.name} name={p.name} query={l.query} /> },
  { pattern: '/deployments', render: () => <DeploymentsPage /> },
  { pattern: '/deployments/:name', render: (p) => <DeploymentPage key={p.name} name={p.name} /> },
  { pattern: '/deployments/:name/monitoring', render: (p, l) => <MonitoringPage key={p.name} name={p.name} query={l.query} /> },
  { pattern: '/audit', render: () => <AuditPage /> },
  { pattern: '/admin', render: (_, l) => <AdminPage query={l.query} /> },
  { pattern: '/tokens', render: (_, l) => <TokensPage query={l.query} /> },
];

interface NavItem {
  href: string;
  label: string;
  section: string[];
  adminOnly?: boolean;
}

const NAV: NavItem[] = [
  { href: '/experiments', label: 'Experiments', section: ['', 'experiments', 'compare', 'runs'] },
  { href: '/models', label: 'Models', section: ['models'] },
  { href: '/datasets', label: 'Datasets', section: ['datasets'] },
  { href: '/deployments', label: 'Deployments', section: ['deployments'] },
  { href: '/audit', label: 'Audit trail', section: ['audit'], adminOnly: true },
  { href: '/admin', label: 'Admin', section: ['admin'], adminOnly: true },
  { href: '/tokens', label: 'Tokens', section: ['tokens'] },
];

type State =
  | { kind: 'checking' }
  | { kind: 'failed'; error: unknown }
  | { kind: 'signed-out'; notice?: string }
  | { kind: 'ready'; viewer: Viewer };

function viewerOf(session: Session): Viewer {
  return { auth: session.auth, user: session.user ?? null };
}

export function App() {
  const [state, setState] = useState<State>({ kind: 'checking' });

  useEffect(() => {
    // Any call answered 401 later (the session expired, or was ended
    // elsewhere) brings the sign-in page back.
    api.onUnauthenticated = () => {
      api.csrfToken = null;
      setState({ kind: 'signed-out', notice: 'Your session has ended: sign in again.' });
    };
    const controller = new AbortController();
    getSession(controller.signal).then(
      (session) =>
        setState(session.auth && !session.user ? { kind: 'signed-out' } : { kind: 'ready', viewer: viewerOf(session) }),
      (error) => {
        if (controller.signal.aborted) return;
        if (error instanceof ApiError && error.status === 401) setState({ kind: 'signed-out' });
        else setState({ kind: 'failed', error });
      },
    );
    return () => {
      controller.abort();
      api.onUnauthenticated = null;
    };
  }, []);

  const onSignOut = async () => {
    try {
      await signOut();
      setState({ kind: 'signed-out', notice: 'Signed out.' });
    } catch (error) {
      const reason = error instanceof ApiError ? `${error.errorCode}: ${error.message}` : String(error);
      setState({ kind: 'signed-out', notice: `The server did not confirm the sign-out (${reason}).` });
    }
  };

  let body;
  let viewer: Viewer = { auth: false, user: null };
  switch (state.kind) {
    case 'checking':
      body = <Loading />;
      break;
    case 'failed':
      body = <ErrorBox error={state.error} title="The server could not be asked who is signed in" />;
      break;
    case 'signed-out':
      body = (
        <SignInPage
          notice={state.notice}
          onSignedIn={(session) => setState({ kind: 'ready', viewer: viewerOf(session) })}
        />
      );
      break;
    case 'ready':
      viewer = state.viewer;
      body = <Routes />;
      break;
  }
  return (
    <ViewerContext.Provider value={viewer}>
      <div class="shell">
        <TopBar viewer={state.kind === 'ready' ? viewer : null} onSignOut={onSignOut} />
        <main class="page">{body}</main>
      </div>
    </ViewerContext.Provider>
  );
}

function TopBar({ viewer, onSignOut }: { viewer: Viewer | null; onSignOut: () => void }) {
  const location = useLocation();
  const section = location.path.split('/')[1] ?? '';
  const user: SessionUser | null = viewer?.user ?? null;
  return (
    <header class="topbar">
      <Link href="/" class="brand">
        Slipway
      </Link>
      {viewer && (
        <nav>
          {NAV.filter((item) => !item.adminOnly || isAdmin(viewer)).map((item) => (
            <Link key={item.href} href={item.href} class={item.section.includes(section) ? 'active' : ''}>
              {item.label}
            </Link>
          ))}
        </nav>
      )}
      {user && (
        <div class="who">
          <span data-testid="signed-in-user">{user.username}</span>
          {user.is_admin && <span class="badge">admin</span>}
          <button type="button" class="sign-out" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      )}
    </header>
  );
}

function Routes() {
  const location = useLocation();
  return <>{resolve(ROUTES, location) ?? <NotFound path={location.path} />}</>;
}

function NotFound({ path }: { path: string }) {
  return (
    <div>
      <h1>Not found</h1>
      <p>
        Nothing lives at <code>{path}</code>. <Link href="/experiments">Experiments</Link>
      </p>
    </div>
  );
}
