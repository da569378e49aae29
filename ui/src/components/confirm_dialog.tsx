// A modal that asks before something changes on the server: the browser's
// own <dialog> (focus kept inside, Escape cancels). The action runs on
// confirm; while it runs the buttons wait, and if the server refuses, its
// error is shown in the dialog, which stays open. Cancel changes nothing.

import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ErrorBox } from './error_box';

interface Props {
  title: string;
  confirmLabel: string;
  // Resolves when done (the dialog then closes through onDone); rejects with the server's error.
  action: () => Promise<unknown>;
  onDone: () => void;
  onCancel: () => void;
  // Whether the confirm button may be pressed yet (a field still empty).
  ready?: boolean;
  danger?: boolean;
  children: ComponentChildren;
}

export function ConfirmDialog(props: Props) {
  const ref = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);

  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);

  const confirm = async (event: Event) => {
    event.preventDefault();
    if (busy || props.ready === false) return;
    setBusy(true);
    setError(undefined);
    try {
      await props.action();
      props.onDone();
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };

  return (
    <dialog
      ref={ref}
      class="confirm"
      aria-label={props.title}
      onCancel={(event) => {
        event.preventDefault();
        if (!busy) props.onCancel();
      }}
    >
      <form method="dialog" onSubmit={confirm}>
        <h2>{props.title}</h2>
        <div class="confirm-body">{props.children}</div>
        <ErrorBox error={error} />
        <div class="confirm-buttons">
          <button type="button" onClick={props.onCancel} disabled={busy}>
            Cancel
          </button>
          <button type="submit" class={props.danger ? 'danger' : ''} disabled={busy || props.ready === false}>
            {busy ? 'Working…' : props.confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
