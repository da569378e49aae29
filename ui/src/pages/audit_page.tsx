// The audit trail (admins; the server refuses anyone else, and the page
// shows its refusal): every change and every refusal, oldest first, filtered
// on the server by time range, principal, action and target (exact), read
// page by page; "Verify chain" asks the server to check the hash chain.
// The filters live in the URL (times as local date-times).

import { useState } from 'preact/hooks';
import { searchAudit, verifyAudit, type AuditEntry, type AuditFilter, type AuditReport } from '../api/audit';
import { ErrorBox } from '../components/error_box';
import { VirtualTable, type Column } from '../components/virtual_table';
import { formatTime } from '../lib/format';
import { usePaged } from '../lib/use_paged';
import { setQuery, useLocation } from '../router';

const PAGE_SIZE = 500;
const FIELDS = ['since', 'until', 'principal', 'action', 'target'] as const;
type Field = (typeof FIELDS)[number];

// A <input type="datetime-local"> value (local time) as ms; undefined if empty or invalid.
function localMs(text: string): number | undefined {
  if (!text) return undefined;
  const ms = new Date(text).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}

const COLUMNS: Column<AuditEntry>[] = [
  { id: 'seq', header: 'Seq', width: 70, align: 'right', render: (e) => e.seq },
  { id: 'time', header: 'Time', width: 170, render: (e) => formatTime(e.time_ms) },
  { id: 'principal', header: 'Principal', width: 150, render: (e) => <span class="principal">{e.principal}</span> },
  { id: 'action', header: 'Action', width: 250, render: (e) => <span class="action">{e.action}</span> },
  { id: 'target', header: 'Target', width: 330, render: (e) => <span title={e.target}>{e.target}</span> },
  {
    id: 'outcome',
    header: 'Outcome',
    width: 90,
    align: 'right',
    render: (e) => <span class={e.outcome >= 400 ? 'status failed' : 'status ok'}>{e.outcome}</span>,
  },
  { id: 'source', header: 'Source', width: 130, render: (e) => e.source },
  { id: 'count', header: 'Count', width: 70, align: 'right', render: (e) => (e.count > 1 ? e.count : '') },
];

export function AuditPage() {
  const location = useLocation();
  const applied: Record<Field, string> = {
    since: location.query.get('since') ?? '',
    until: location.query.get('until') ?? '',
    principal: location.query.get('principal') ?? '',
    action: location.query.get('action') ?? '',
    target: location.query.get('target') ?? '',
  };
  const key = FIELDS.map((f) => applied[f]).join('\u0000');
  const [typed, setTyped] = useState(applied);
  const [report, setReport] = useState<{ busy: boolean; result?: AuditReport; error?: unknown }>({ busy: false });

  const entries = usePaged(
    async (pageToken, signal) => {
      const filter: AuditFilter = {
        since: localMs(applied.since),
        until: localMs(applied.until),
        principal: applied.principal,
        action: applied.action,
        target: applied.target,
      };
      const reply = await searchAudit(filter, pageToken, PAGE_SIZE, signal);
      return { items: reply.entries ?? [], nextPageToken: reply.next_page_token };
    },
    [key],
  );

  const verify = async () => {
    setReport({ busy: true });
    try {
      setReport({ busy: false, result: await verifyAudit() });
    } catch (error) {
      setReport({ busy: false, error });
    }
  };

  const input = (field: Field, label: string, type = 'text') => (
    <label class="field">
      {label}
      <input
        type={type}
        name={field}
        aria-label={label}
        value={typed[field]}
        onInput={(event) => setTyped({ ...typed, [field]: event.currentTarget.value })}
      />
    </label>
  );

  return (
    <section class="audit-page fill">
      <h1>Audit trail</h1>
      <form
        class="toolbar audit-filters"
        onSubmit={(event) => {
          event.preventDefault();
          setQuery(Object.fromEntries(FIELDS.map((f) => [f, typed[f].trim()])));
        }}
      >
        {input('since', 'From', 'datetime-local')}
        {input('until', 'To', 'datetime-local')}
        {input('principal', 'Principal')}
        {input('action', 'Action')}
        {input('target', 'Target')}
        <button type="submit">Filter</button>
        <button type="button" onClick={verify} disabled={report.busy} data-testid="verify-button">
          {report.busy ? 'Verifying…' : 'Verify chain'}
        </button>
      </form>
      <VerifyResult report={report.result} error={report.error} />
      <div class="toolbar">
        <span class="count" data-testid="audit-count">
          {entries.items.length} entr{entries.items.length === 1 ? 'y' : 'ies'}
          {entries.complete ? '' : entries.loading ? ', loading…' : ', more below'}
        </span>
        <span class="muted">Filters match exactly; oldest first.</span>
      </div>
      <ErrorBox error={entries.error} />
      <VirtualTable
        label="Audit entries"
        testId="audit-table"
        columns={COLUMNS}
        rows={entries.items}
        rowKey={(e) => String(e.seq)}
        onNearEnd={entries.loadMore}
        empty={entries.loading ? 'Loading…' : 'No entries.'}
      />
    </section>
  );
}

function VerifyResult({ report, error }: { report?: AuditReport; error?: unknown }) {
  if (error) return <ErrorBox error={error} title="Verify" />;
  if (!report) return null;
  if (report.ok) {
    return (
      <div class="verify ok" role="status" data-testid="verify-result">
        Chain intact: {report.entries} entr{report.entries === 1 ? 'y' : 'ies'} verified, no problems.
      </div>
    );
  }
  return (
    <div class="verify bad" role="status" data-testid="verify-result">
      Chain broken: {report.problems.length} problem{report.problems.length === 1 ? '' : 's'} in {report.entries} entries.
      <ul>
        {report.problems.map((p) => (
          <li key={`${p.seq}-${p.kind}`}>
            #{p.seq} {p.kind}: {p.message}
          </li>
        ))}
      </ul>
    </div>
  );
}
