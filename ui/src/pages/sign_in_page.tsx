// The sign-in form a server with --auth shows before anything else: the user
// name and password go to POST /api/v1/session once (as Basic credentials)
// and are then dropped; the server's refusal (a wrong password, too many
// attempts) is shown as it said it.

import { useState } from 'preact/hooks';
import { signIn, type Session } from '../api/session';
import { ErrorBox } from '../components/error_box';

export function SignInPage({ notice, onSignedIn }: { notice?: string; onSignedIn: (session: Session) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(undefined);
    try {
      const session = await signIn(username, password);
      onSignedIn(session);
    } catch (failure) {
      setError(failure);
      setPassword('');
      setBusy(false);
    }
  };

  return (
    <section class="sign-in">
      {/* method="post": were the script ever not to run, no password goes into a URL. */}
      <form class="panel sign-in-form" method="post" onSubmit={submit} data-testid="sign-in">
        <h1>Sign in</h1>
        {notice && !error && <p class="muted" data-testid="sign-in-notice">{notice}</p>}
        <ErrorBox error={error} />
        <label>
          User name
          <input
            name="username"
            autocomplete="username"
            required
            value={username}
            onInput={(event) => setUsername(event.currentTarget.value)}
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(event) => setPassword(event.currentTarget.value)}
          />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </section>
  );
}
