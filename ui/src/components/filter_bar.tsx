// The search box of a list the server filters (runs, traces): a filter in
// MLflow's grammar, applied with Enter or Search, removed with Clear, and the
// server's refusal of it shown under the bar as the server said it. The
// applied filter belongs to the owner (the page keeps it in the URL); what is
// being typed stays here until it is applied. Anything the page adds to its
// toolbar (buttons, a count) goes after Clear, as children.

import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ErrorBox } from './error_box';

interface Props {
  // The filter in force.
  filter: string;
  // Search: the typed filter, trimmed; Clear: undefined.
  onApply: (filter: string | undefined) => void;
  label: string;
  placeholder: string;
  // The search's failure, if it failed.
  error?: unknown;
  children?: ComponentChildren;
}

export function FilterBar({ filter, onApply, label, placeholder, error, children }: Props) {
  const [typed, setTyped] = useState(filter);
  useEffect(() => setTyped(filter), [filter]);
  return (
    <>
      <form
        class="toolbar"
        onSubmit={(event) => {
          event.preventDefault();
          onApply(typed.trim());
        }}
      >
        <input
          class="filter"
          type="search"
          aria-label={label}
          placeholder={placeholder}
          value={typed}
          onInput={(event) => setTyped(event.currentTarget.value)}
        />
        <button type="submit">Search</button>
        <button
          type="button"
          onClick={() => {
            setTyped('');
            onApply(undefined);
          }}
        >
          Clear
        </button>
        {children}
      </form>
      <ErrorBox error={error} title="Search" />
    </>
  );
}
