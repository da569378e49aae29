// The shell: the top bar with the navigation, and the page the path names.
//
// Adding a page: a component under pages/, a RouteDef below, a NAV entry if
// it is a section of its own, and (for a new top-level section) the section
// in the server's list (src/webui/asset_catalog.h, kClientSections) so a reload
// or a shared link of it is answered with this app.

import { ExperimentsPage } from './pages/experiments_page';
import { RunsPage } from './pages/runs_page';
import { RunPage } from './pages/run_page';
import { ComparePage } from './pages/compare_page';
import { Link, resolve, useLocation, type RouteDef } from './router';

const ROUTES: RouteDef[] = [
  { pattern: '/', render: () => <ExperimentsPage /> },
  { pattern: '/experiments', render: () => <ExperimentsPage /> },
  { pattern: '/experiments/:id', render: (p, l) => <RunsPage key={p.id} experimentId={p.id} query={l.query} /> },
  { pattern: '/experiments/:id/runs/:runId', render: (p, l) => <RunPage runId={p.runId} query={l.query} /> },
  { pattern: '/compare', render: (_, l) => <ComparePage query={l.query} /> },
];

const NAV = [{ href: '/experiments', label: 'Experiments', section: ['', 'experiments', 'compare'] }];

export function App() {
  const location = useLocation();
  const section = location.path.split('/')[1] ?? '';
  const page = resolve(ROUTES, location);
  return (
    <div class="shell">
      <header class="topbar">
        <Link href="/" class="brand">
          Slipway
        </Link>
        <nav>
          {NAV.map((item) => (
            <Link key={item.href} href={item.href} class={item.section.includes(section) ? 'active' : ''}>
              {item.label}
            </Link>
          ))}
        </nav>
      </header>
      <main class="page">{page ?? <NotFound path={location.path} />}</main>
    </div>
  );
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
