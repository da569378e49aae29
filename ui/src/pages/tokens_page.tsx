// API tokens for scripts and clients (`Authorization: Bearer <token>`):
// every signed-in user lists, creates and revokes their own; admins choose
// whose (?user= in the URL; "all users" lists everyone's). A new token's
// secret is shown once, in this page's memory only: the server keeps a
// hash and will not answer it again. Revoking asks first.

import { useRef, useState } from 'preact/hooks';
import { createToken, listTokens, listUsers, revokeToken, type TokenInfo } from '../api/users';
import { ConfirmDialog } from '../components/confirm_dialog';
import { ErrorBox, Loading } from '../components/error_box';
import { formatTime } from '../lib/format';
import { useViewer } from '../lib/session';
import { useAsync } from '../lib/use_async';
import { Link, setQuery } from '../router';
import { AuthOff } from './admin_page';

const ALL = '*';

export function TokensPage({ query }: { query: URLSearchParams }) {
  const viewer = useViewer();
  const me = viewer.user?.username ?? '';
  const admin = viewer.user?.is_admin === true;
  // Whose tokens: one's own unless an admin chose someone (or everyone).
  const owner = (admin && query.get('user')) || me;
  const [revision, setRevision] = useState(0);
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<TokenInfo | null>(null);
  const [secret, setSecret] = useState<{ token: string; info: TokenInfo } | null>(null);
  const tokens = useAsync(
    (signal) => (viewer.auth ? listTokens(owner === ALL ? undefined : owner, signal) : Promise.resolve([])),
    [viewer.auth, owner, revision],
  );
  const users = useAsync((signal) => (admin ? listUsers(signal) : Promise.resolve([])), [admin]);

  if (!viewer.auth) {
    return (
      <section class="tokens-page">
        <h1>API tokens</h1>
        <AuthOff what="API tokens" />
      </section>
    );
  }

  return (
    <section class="tokens-page">
      <h1>API tokens</h1>
      {admin && (
        <nav class="tabs">
          <Link href="/admin">Users and permissions</Link>
          <span class="current">Tokens</span>
        </nav>
      )}
      <p class="muted">
        A token signs a script or client in as its user: send it as <code>Authorization: Bearer …</code> (or set{' '}
        <code>MLFLOW_TRACKING_TOKEN</code>). It can do what its user can, until it expires or is revoked.
      </p>
      {secret && <NewToken token={secret.token} info={secret.info} onDismiss={() => setSecret(null)} />}
      <div class="toolbar">
        {admin && (
          <label class="inline">
            User{' '}
            <select
              aria-label="Whose tokens"
              value={owner}
              onChange={(event) => {
                const value = event.currentTarget.value;
                setQuery({ user: value === me ? undefined : value });
              }}
            >
              <option value={me}>{me} (you)</option>
              <option value={ALL}>all users</option>
              {(users.data ?? [])
                .filter((u) => u.username !== me)
                .map((u) => (
                  <option key={u.username} value={u.username}>
                    {u.username}
                  </option>
                ))}
            </select>
          </label>
        )}
        <button type="button" onClick={() => setCreating(true)} disabled={owner === ALL}>
          New token…
        </button>
      </div>
      <ErrorBox error={users.error} title="Users" />
      {tokens.error ? (
        <ErrorBox error={tokens.error} title="Tokens" />
      ) : !tokens.data ? (
        <Loading what="tokens" />
      ) : tokens.data.length === 0 ? (
        <div class="muted" data-testid="no-tokens">
          No tokens.
        </div>
      ) : (
        <table class="kv" data-testid="tokens-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>User</th>
              <th>ID</th>
              <th>Created</th>
              <th>Expires</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {tokens.data.map((token) => (
              <tr key={token.id} data-token={token.id}>
                <td>{token.name || <span class="muted">unnamed</span>}</td>
                <td>{token.username}</td>
                <td>
                  <code>{token.id}</code>
                </td>
                <td>{formatTime(token.created_ms)}</td>
                <td>{token.expires_ms ? formatTime(token.expires_ms) : <span class="muted">never</span>}</td>
                <td class="actions">
                  <button
                    type="button"
                    class="small"
                    aria-label={`Revoke token ${token.name || token.id}`}
                    onClick={() => setRevoking(token)}
                  >
                    Revoke…
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {creating && (
        <CreateTokenDialog
          username={owner === me ? undefined : owner}
          onCreated={(token, info) => {
            setSecret({ token, info });
            setCreating(false);
            setRevision((r) => r + 1);
          }}
          onCancel={() => setCreating(false)}
        />
      )}
      {revoking && (
        <ConfirmDialog
          title="Revoke a token"
          confirmLabel="Revoke token"
          danger
          action={() => revokeToken(revoking.id)}
          onDone={() => {
            if (secret?.info.id === revoking.id) setSecret(null);
            setRevoking(null);
            setRevision((r) => r + 1);
          }}
          onCancel={() => setRevoking(null)}
        >
          <p>
            Revoke <strong>{revoking.name || revoking.id}</strong> of {revoking.username}? Every client using it is
            refused from now on.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}

function CreateTokenDialog(props: {
  username?: string;
  onCreated: (token: string, info: TokenInfo) => void;
  onCancel: () => void;
}) {
  const [name, setName] = useState('');
  const [days, setDays] = useState('90');
  const created = useRef<{ token: string; token_info: TokenInfo } | null>(null);
  const trimmedDays = days.trim();
  const daysValid = trimmedDays === '' || /^[0-9]+$/.test(trimmedDays);
  return (
    <ConfirmDialog
      title={props.username ? `New token for ${props.username}` : 'New token'}
      confirmLabel="Create token"
      ready={daysValid}
      action={async () => {
        created.current = await createToken({
          name: name.trim(),
          username: props.username,
          expiresInDays: trimmedDays === '' ? undefined : Number(trimmedDays),
        });
      }}
      onDone={() => created.current && props.onCreated(created.current.token, created.current.token_info)}
      onCancel={props.onCancel}
    >
      <label>
        Name
        <input name="name" autocomplete="off" placeholder="ci-pipeline" value={name} onInput={(event) => setName(event.currentTarget.value)} />
      </label>
      <label>
        Expires after (days; empty: never)
        <input
          name="expires_in_days"
          inputMode="numeric"
          autocomplete="off"
          value={days}
          onInput={(event) => setDays(event.currentTarget.value)}
        />
      </label>
    </ConfirmDialog>
  );
}

function NewToken({ token, info, onDismiss }: { token: string; info: TokenInfo; onDismiss: () => void }) {
  const [copied, setCopied] = useState<'yes' | 'failed' | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(token);
      setCopied('yes');
    } catch {
      setCopied('failed');
    }
  };
  return (
    <div class="new-token" role="status" data-testid="new-token">
      <strong>Token {info.name ? `“${info.name}” ` : ''}created for {info.username}.</strong> Copy it now:{' '}
      <strong>it will not be shown again</strong> (the server keeps only a hash of it).
      <div class="secret-row">
        <input
          class="secret"
          readOnly
          aria-label="New token"
          value={token}
          onFocus={(event) => event.currentTarget.select()}
        />
        <button type="button" onClick={copy}>
          Copy
        </button>
        <button type="button" onClick={onDismiss}>
          Done
        </button>
        {copied === 'yes' && <span class="muted">Copied.</span>}
        {copied === 'failed' && <span class="muted">The browser refused the clipboard: select the text and copy it.</span>}
      </div>
    </div>
  );
}
