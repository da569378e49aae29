// Shows a failed call as the server put it: MLflow's error code and message.

import { ApiError } from '../api/client';

export function ErrorBox({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const apiError = error instanceof ApiError ? error : null;
  return (
    <div class="error-box" role="alert">
      {title && <strong>{title}: </strong>}
      {apiError ? (
        <>
          <code class="error-code">{apiError.errorCode}</code> {apiError.message}
        </>
      ) : (
        String(error)
      )}
    </div>
  );
}

export function Loading({ what }: { what?: string }) {
  return <div class="loading">Loading{what ? ` ${what}` : ''}…</div>;
}
