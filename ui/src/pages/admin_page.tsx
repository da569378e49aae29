// Users and their permissions (admins; the server refuses anyone else, and
// the page shows its refusal): the users with their admin flag, creating
// one, resetting a password, making or unmaking an admin, deleting; and for
// the user chosen (?user= in the URL) the grants they hold, with grant and
// revoke. Every change asks first (ConfirmDialog) and shows the server's
// refusal there: it refuses, for one, to unmake or delete oneself.
// A server without --auth has no users: the page says so.

import { useState } from 'preact/hooks';
import {
  createUser,
  deleteUser,
  grantPermission,
  listGrants,
  listUsers,
  PERMISSIONS,
  RESOURCE_TYPES,
  revokePermission,
  updateAdmin,
  updatePassword,
  type Grant,
  type ResourceType,
  type User,
} from '../api/users';
import { ConfirmDialog } from '../components/confirm_dialog';
import { ErrorBox, Loading } from '../components/error_box';
import { useViewer } from '../lib/session';
import { useAsync } from '../lib/use_async';
import { Link, setQuery } from '../router';
import { modelPath } from './models_page';

export function AuthOff({ what }: { what: string }) {
  return (
    <div class="auth-off" data-testid="auth-off">
      Authentication is off: this server was started without <code>--auth</code>, so there are no {what} to manage;
      every caller may do everything.
    </div>
  );
}

type UserDialog =
  | { kind: 'create' }
  | { kind: 'password'; user: User }
  | { kind: 'admin'; user: User }
  | { kind: 'delete'; user: User }
  | null;

export function AdminPage({ query }: { query: URLSearchParams }) {
  const viewer = useViewer();
  const selected = query.get('user') ?? '';
  // Bumped after a change, so the users are read again.
  const [revision, setRevision] = useState(0);
  const [dialog, setDialog] = useState<UserDialog>(null);
  const users = useAsync((signal) => (viewer.auth ? listUsers(signal) : Promise.resolve([])), [viewer.auth, revision]);

  if (!viewer.auth) {
    return (
      <section class="admin-page">
        <h1>Admin</h1>
        <AuthOff what="users or permissions" />
      </section>
    );
  }

  const changed = (deleted?: string) => {
    setDialog(null);
    setRevision((r) => r + 1);
    if (deleted && deleted === selected) setQuery({ user: undefined });
  };
  const me = viewer.user?.username;

  return (
    <section class="admin-page">
      <h1>Admin</h1>
      <nav class="tabs">
        <span class="current">Users and permissions</span>
        <Link href="/tokens">Tokens</Link>
      </nav>
      <div class="panel">
        <h2>
          Users{' '}
          <button type="button" class="small" onClick={() => setDialog({ kind: 'create' })}>
            New user…
          </button>
        </h2>
        {users.error ? (
          <ErrorBox error={users.error} title="Users" />
        ) : !users.data ? (
          <Loading what="users" />
        ) : (
          <table class="kv users-table" data-testid="users-table">
            <thead>
              <tr>
                <th>User</th>
                <th>Admin</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {users.data.map((user) => (
                <tr key={user.username} data-user={user.username} class={user.username === selected ? 'current' : ''}>
                  <td>
                    <a
                      href={`?user=${encodeURIComponent(user.username)}`}
                      onClick={(event) => {
                        event.preventDefault();
                        setQuery({ user: user.username });
                      }}
                      title="Show this user's permissions"
                    >
                      {user.username}
                    </a>
                    {user.username === me && <span class="muted"> (you)</span>}
                  </td>
                  <td data-testid="is-admin">{user.is_admin ? <span class="badge">admin</span> : <span class="muted">no</span>}</td>
                  <td class="actions">
                    <button type="button" class="small" onClick={() => setDialog({ kind: 'password', user })}>
                      Reset password…
                    </button>
                    <button type="button" class="small" onClick={() => setDialog({ kind: 'admin', user })}>
                      {user.is_admin ? 'Remove admin…' : 'Make admin…'}
                    </button>
                    <button
                      type="button"
                      class="small"
                      aria-label={`Delete user ${user.username}`}
                      onClick={() => setDialog({ kind: 'delete', user })}
                    >
                      Delete…
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      {selected && <GrantsPanel key={selected} username={selected} />}
      {dialog?.kind === 'create' && <CreateUserDialog onDone={() => changed()} onCancel={() => setDialog(null)} />}
      {dialog?.kind === 'password' && (
        <PasswordDialog user={dialog.user} onDone={() => changed()} onCancel={() => setDialog(null)} />
      )}
      {dialog?.kind === 'admin' && (
        <ConfirmDialog
          title={dialog.user.is_admin ? `Remove admin from ${dialog.user.username}` : `Make ${dialog.user.username} an admin`}
          confirmLabel={dialog.user.is_admin ? 'Remove admin' : 'Make admin'}
          danger={!dialog.user.is_admin}
          action={() => updateAdmin(dialog.user.username, !dialog.user.is_admin)}
          onDone={() => changed()}
          onCancel={() => setDialog(null)}
        >
          <p>
            {dialog.user.is_admin
              ? `${dialog.user.username} keeps only the permissions granted to them.`
              : `${dialog.user.username} may then do everything: manage users, read the audit trail, change any resource.`}
          </p>
        </ConfirmDialog>
      )}
      {dialog?.kind === 'delete' && (
        <ConfirmDialog
          title={`Delete user ${dialog.user.username}`}
          confirmLabel="Delete user"
          danger
          action={() => deleteUser(dialog.user.username)}
          onDone={() => changed(dialog.user.username)}
          onCancel={() => setDialog(null)}
        >
          <p>
            Delete <strong>{dialog.user.username}</strong>? Their API tokens and permissions go with them; what they
            created stays.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}

function TextField(props: { label: string; name: string; value: string; onInput: (value: string) => void; type?: string }) {
  return (
    <label>
      {props.label}
      <input
        name={props.name}
        type={props.type ?? 'text'}
        autocomplete={props.type === 'password' ? 'new-password' : 'off'}
        value={props.value}
        onInput={(event) => props.onInput(event.currentTarget.value)}
      />
    </label>
  );
}

function CreateUserDialog(props: { onDone: () => void; onCancel: () => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  return (
    <ConfirmDialog
      title="New user"
      confirmLabel="Create user"
      ready={username.trim() !== '' && password !== ''}
      action={() => createUser(username.trim(), password)}
      onDone={props.onDone}
      onCancel={props.onCancel}
    >
      <TextField label="User name" name="username" value={username} onInput={setUsername} />
      <TextField label="Password" name="password" type="password" value={password} onInput={setPassword} />
      <p class="muted">They sign in with this password; they see only what they are granted (or the server's default).</p>
    </ConfirmDialog>
  );
}

function PasswordDialog(props: { user: User; onDone: () => void; onCancel: () => void }) {
  const [password, setPassword] = useState('');
  return (
    <ConfirmDialog
      title={`Reset the password of ${props.user.username}`}
      confirmLabel="Reset password"
      ready={password !== ''}
      action={() => updatePassword(props.user.username, password)}
      onDone={props.onDone}
      onCancel={props.onCancel}
    >
      <TextField label="New password" name="password" type="password" value={password} onInput={setPassword} />
    </ConfirmDialog>
  );
}

function resourceLink(grant: Grant) {
  const id = grant.resource_pattern;
  if (grant.resource_type === 'experiment') return <Link href={`/experiments/${encodeURIComponent(id)}`}>{id}</Link>;
  if (grant.resource_type === 'registered_model') return <Link href={modelPath(id)}>{id}</Link>;
  return <code>{id}</code>;
}

function GrantsPanel({ username }: { username: string }) {
  const [revision, setRevision] = useState(0);
  const [dialog, setDialog] = useState<{ kind: 'grant' } | { kind: 'revoke'; grant: Grant } | null>(null);
  const grants = useAsync((signal) => listGrants(username, signal), [username, revision]);
  const changed = () => {
    setDialog(null);
    setRevision((r) => r + 1);
  };
  return (
    <div class="panel" data-testid="grants">
      <h2>
        Permissions of {username}{' '}
        <button type="button" class="small" onClick={() => setDialog({ kind: 'grant' })}>
          Grant…
        </button>
      </h2>
      {grants.error ? (
        <ErrorBox error={grants.error} title="Permissions" />
      ) : !grants.data ? (
        <Loading what="permissions" />
      ) : grants.data.length === 0 ? (
        <div class="muted">No grants: {username} has the server's default permission on everything they did not create.</div>
      ) : (
        <table class="kv" data-testid="grants-table">
          <thead>
            <tr>
              <th>Resource type</th>
              <th>Resource</th>
              <th>Permission</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {grants.data.map((grant) => (
              <tr key={`${grant.resource_type}/${grant.resource_pattern}`} data-grant={`${grant.resource_type}/${grant.resource_pattern}`}>
                <td>{grant.resource_type}</td>
                <td>{resourceLink(grant)}</td>
                <td>{grant.permission}</td>
                <td class="actions">
                  <button
                    type="button"
                    class="small"
                    aria-label={`Revoke ${grant.permission} on ${grant.resource_type} ${grant.resource_pattern}`}
                    onClick={() => setDialog({ kind: 'revoke', grant })}
                  >
                    Revoke…
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {dialog?.kind === 'grant' && <GrantDialog username={username} onDone={changed} onCancel={() => setDialog(null)} />}
      {dialog?.kind === 'revoke' && (
        <ConfirmDialog
          title={`Revoke a permission of ${username}`}
          confirmLabel="Revoke"
          danger
          action={() => revokePermission(username, dialog.grant.resource_type, dialog.grant.resource_pattern)}
          onDone={changed}
          onCancel={() => setDialog(null)}
        >
          <p>
            Revoke {dialog.grant.permission} on {dialog.grant.resource_type} <code>{dialog.grant.resource_pattern}</code>?{' '}
            {username} then has the server's default permission on it.
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}

const RESOURCE_LABEL: Record<ResourceType, string> = {
  experiment: 'Experiment ID',
  registered_model: 'Model name',
  dataset: 'Dataset name',
  deployment: 'Deployment name',
};

function GrantDialog(props: { username: string; onDone: () => void; onCancel: () => void }) {
  const [type, setType] = useState<ResourceType>('experiment');
  const [resource, setResource] = useState('');
  const [permission, setPermission] = useState<string>('READ');
  const trimmed = resource.trim();
  return (
    <ConfirmDialog
      title={`Grant ${props.username} a permission`}
      confirmLabel="Grant"
      ready={trimmed !== ''}
      action={() => grantPermission(props.username, type, trimmed, permission)}
      onDone={props.onDone}
      onCancel={props.onCancel}
    >
      <label>
        Resource type
        <select name="resource_type" value={type} onChange={(event) => setType(event.currentTarget.value as ResourceType)}>
          {RESOURCE_TYPES.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
      </label>
      <TextField label={RESOURCE_LABEL[type]} name="resource_id" value={resource} onInput={setResource} />
      <label>
        Permission
        <select name="permission" value={permission} onChange={(event) => setPermission(event.currentTarget.value)}>
          {PERMISSIONS.map((p) => (
            <option key={p} value={p}>
              {p}
            </option>
          ))}
        </select>
      </label>
      <p class="muted">A grant replaces the one {props.username} had on the same resource.</p>
    </ConfirmDialog>
  );
}
