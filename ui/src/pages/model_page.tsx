// One registered model: what it is, its aliases, and its versions (version,
// stage, aliases, source run, status, created) read page by page. Setting
// an alias on a version and removing one ask first (ConfirmDialog); the
// server decides who may (EDIT on the model) and its refusal is shown.
// Moving a version to another stage (promote to Staging or Production,
// archive) asks first too; its buttons show only to viewers whose
// permission on the model, as the server answers it, is EDIT or more.

import { useState } from 'preact/hooks';
import {
  deleteAlias,
  getRegisteredModel,
  searchModelVersions,
  setAlias,
  transitionStage,
  type ModelVersion,
  type RegisteredModel,
  type Stage,
} from '../api/registry';
import { effectivePermission } from '../api/users';
import { ConfirmDialog } from '../components/confirm_dialog';
import { ErrorBox, Loading } from '../components/error_box';
import { VirtualTable, type Column } from '../components/virtual_table';
import { formatTime } from '../lib/format';
import { useViewer } from '../lib/session';
import { useAsync } from '../lib/use_async';
import { usePaged } from '../lib/use_paged';
import { Link } from '../router';
import { modelPath } from './models_page';

type Dialog =
  | { kind: 'set'; version: string }
  | { kind: 'delete'; version: string; alias: string }
  | { kind: 'stage'; version: string; from: string; to: Stage }
  | null;

// Whether the viewer may change the model (EDIT or MANAGE): everyone on a
// server without --auth; otherwise as the server answers for them. A
// failed answer hides the buttons and the page says why (the server would
// refuse a change it does not allow anyway).
function useCanEdit(name: string): { canEdit: boolean; error: unknown } {
  const viewer = useViewer();
  const username = viewer.user?.username;
  const held = useAsync(
    (signal) =>
      viewer.auth && username ? effectivePermission(username, 'registered_model', name, signal) : Promise.resolve('MANAGE'),
    [viewer.auth, username, name],
  );
  return { canEdit: held.data === 'EDIT' || held.data === 'MANAGE', error: held.error };
}

export function ModelPage({ name }: { name: string }) {
  // Bumped after a change, so the model and its versions are read again.
  const [revision, setRevision] = useState(0);
  const [dialog, setDialog] = useState<Dialog>(null);
  const { canEdit, error: permissionError } = useCanEdit(name);
  const model = useAsync((signal) => getRegisteredModel(name, signal), [name, revision]);
  const versions = usePaged(
    async (pageToken, signal) => {
      const reply = await searchModelVersions(name, { pageToken }, signal);
      return { items: reply.model_versions ?? [], nextPageToken: reply.next_page_token };
    },
    [name, revision],
  );

  const columns: Column<ModelVersion>[] = [
    {
      id: 'version',
      header: 'Version',
      width: 90,
      render: (v) => (
        <Link href={modelPath(name, v.version)} class="version-link">
          Version {v.version}
        </Link>
      ),
    },
    { id: 'stage', header: 'Stage', width: 110, render: (v) => v.current_stage ?? '' },
    {
      id: 'aliases',
      header: 'Aliases',
      width: canEdit ? 210 : 280,
      render: (v) => (
        <span class="chips">
          {(v.aliases ?? []).map((alias) => (
            <span class="chip" key={alias}>
              @{alias}
              <button
                type="button"
                class="chip-remove"
                aria-label={`Remove alias ${alias}`}
                title={`Remove alias ${alias}`}
                onClick={() => setDialog({ kind: 'delete', version: v.version, alias })}
              >
                ×
              </button>
            </span>
          ))}
        </span>
      ),
    },
    {
      id: 'run',
      header: 'Source run',
      width: canEdit ? 260 : 290,
      render: (v) => (v.run_id ? <Link href={`/runs/${encodeURIComponent(v.run_id)}`}>{v.run_id}</Link> : ''),
    },
    { id: 'status', header: 'Status', width: canEdit ? 110 : 130, render: (v) => v.status ?? '' },
    { id: 'created', header: 'Created', width: 170, render: (v) => formatTime(v.creation_timestamp) },
    {
      id: 'actions',
      header: '',
      width: canEdit ? 350 : 110,
      render: (v) => (
        <span class="row-actions">
          <button type="button" class="small" aria-label={`Set alias on version ${v.version}`} onClick={() => setDialog({ kind: 'set', version: v.version })}>
            Set alias…
          </button>
          {canEdit && <StageButtons version={v} onPick={(to) => setDialog({ kind: 'stage', version: v.version, from: v.current_stage ?? 'None', to })} />}
        </span>
      ),
    },
  ];

  const changed = () => {
    setDialog(null);
    setRevision((r) => r + 1);
  };

  return (
    <section class="model-page fill">
      <div class="crumbs">
        <Link href="/models">Models</Link> /
      </div>
      <h1 data-testid="model-name">{name}</h1>
      {model.error ? <ErrorBox error={model.error} title="Model" /> : model.data ? <ModelOverview model={model.data} /> : <Loading what="model" />}
      <h2>Versions</h2>
      <ErrorBox error={permissionError} title="Changes are hidden: your permission on this model could not be read" />
      <ErrorBox error={versions.error} />
      <VirtualTable
        label="Versions"
        testId="versions-table"
        columns={columns}
        rows={versions.items}
        rowKey={(v) => v.version}
        rowHeight={34}
        onNearEnd={versions.loadMore}
        empty={versions.loading ? 'Loading…' : 'No versions.'}
      />
      {dialog?.kind === 'set' && (
        <SetAliasDialog name={name} version={dialog.version} onDone={changed} onCancel={() => setDialog(null)} />
      )}
      {dialog?.kind === 'stage' && (
        <StageDialog name={name} version={dialog.version} from={dialog.from} to={dialog.to} onDone={changed} onCancel={() => setDialog(null)} />
      )}
      {dialog?.kind === 'delete' && (
        <ConfirmDialog
          title={`Remove alias @${dialog.alias}`}
          confirmLabel="Remove alias"
          danger
          action={() => deleteAlias(name, dialog.alias)}
          onDone={changed}
          onCancel={() => setDialog(null)}
        >
          <p>
            Remove the alias <code>@{dialog.alias}</code> from version {dialog.version} of <strong>{name}</strong>? Clients
            that load <code>models:/{name}@{dialog.alias}</code> will fail until it is set again.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}

function ModelOverview({ model }: { model: RegisteredModel }) {
  return (
    <dl class="overview">
      <dt>Description</dt>
      <dd>{model.description || <span class="muted">none</span>}</dd>
      <dt>Aliases</dt>
      <dd data-testid="model-aliases">
        {(model.aliases ?? []).length
          ? (model.aliases ?? []).map((a) => `@${a.alias} → version ${a.version}`).join(', ')
          : <span class="muted">none</span>}
      </dd>
      <dt>Created</dt>
      <dd>{formatTime(model.creation_timestamp)}</dd>
      <dt>Last update</dt>
      <dd>{formatTime(model.last_updated_timestamp)}</dd>
      {(model.tags ?? []).length > 0 && (
        <>
          <dt>Tags</dt>
          <dd>{(model.tags ?? []).map((t) => `${t.key}=${t.value}`).join(', ')}</dd>
        </>
      )}
    </dl>
  );
}

function SetAliasDialog(props: { name: string; version: string; onDone: () => void; onCancel: () => void }) {
  const [alias, setAliasText] = useState('');
  const trimmed = alias.trim();
  return (
    <ConfirmDialog
      title={`Set an alias on version ${props.version}`}
      confirmLabel="Set alias"
      ready={trimmed !== ''}
      action={() => setAlias(props.name, trimmed, props.version)}
      onDone={props.onDone}
      onCancel={props.onCancel}
    >
      <label>
        Alias
        <input
          name="alias"
          autocomplete="off"
          value={alias}
          onInput={(event) => setAliasText(event.currentTarget.value)}
          placeholder="champion"
        />
      </label>
      <p class="muted">
        Points <code>models:/{props.name}@{trimmed || '…'}</code> at version {props.version}; if the alias is on
        another version, it moves here.
      </p>
    </ConfirmDialog>
  );
}

// The stages a version can go to from where it is.
function StageButtons({ version, onPick }: { version: ModelVersion; onPick: (to: Stage) => void }) {
  const stage = version.current_stage ?? 'None';
  const button = (to: Stage, text: string, label: string) =>
    stage === to ? null : (
      <button type="button" class="small" aria-label={label} title={label} onClick={() => onPick(to)}>
        {text}
      </button>
    );
  return (
    <>
      {button('Staging', 'Staging…', `Promote version ${version.version} to Staging`)}
      {button('Production', 'Production…', `Promote version ${version.version} to Production`)}
      {button('Archived', 'Archive…', `Archive version ${version.version}`)}
    </>
  );
}

function StageDialog(props: { name: string; version: string; from: string; to: Stage; onDone: () => void; onCancel: () => void }) {
  const [archiveExisting, setArchiveExisting] = useState(false);
  const promote = props.to !== 'Archived';
  return (
    <ConfirmDialog
      title={promote ? `Promote version ${props.version} to ${props.to}` : `Archive version ${props.version}`}
      confirmLabel={promote ? `Promote to ${props.to}` : 'Archive'}
      danger={props.to === 'Production' || props.to === 'Archived'}
      action={() => transitionStage(props.name, props.version, props.to, promote && archiveExisting)}
      onDone={props.onDone}
      onCancel={props.onCancel}
    >
      <p>
        Move version {props.version} of <strong>{props.name}</strong> from {props.from} to {props.to}?
        {promote ? (
          <>
            {' '}
            Clients that load <code>models:/{props.name}/{props.to}</code> get the newest version in {props.to}.
          </>
        ) : props.from !== 'None' ? (
          <>
            {' '}
            Clients that load <code>models:/{props.name}/{props.from}</code> no longer get it.
          </>
        ) : null}
      </p>
      {promote && (
        <label class="check">
          <input type="checkbox" name="archive_existing" checked={archiveExisting} onChange={(event) => setArchiveExisting(event.currentTarget.checked)} />
          Archive the versions now in {props.to}
        </label>
      )}
    </ConfirmDialog>
  );
}
