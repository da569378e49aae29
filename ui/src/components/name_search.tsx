// The search-by-name bar of the list pages (experiments, models): the typed
// name goes into the address as `?name=` (so the page searches the server
// for it), with a count of what is listed so far.

import { useState } from 'preact/hooks';
import { setQuery, useLocation } from '../router';

// The name in the address: what the page searches for.
export function useAppliedName(): string {
  return useLocation().query.get('name') ?? '';
}

export function NameSearch(props: {
  label: string; // aria-label of the input
  noun: string; // "experiment", "model": pluralised with an s
  testId: string;
  listed: number;
  complete: boolean;
  loading: boolean;
}) {
  const applied = useAppliedName();
  const [typed, setTyped] = useState(applied);
  return (
    <form
      class="toolbar"
      onSubmit={(event) => {
        event.preventDefault();
        setQuery({ name: typed.trim() });
      }}
    >
      <input
        type="search"
        placeholder="Name contains…"
        aria-label={props.label}
        value={typed}
        onInput={(event) => setTyped(event.currentTarget.value)}
      />
      <button type="submit">Search</button>
      <span class="count" data-testid={props.testId}>
        {props.listed} {props.noun}
        {props.listed === 1 ? '' : 's'}
        {props.complete ? '' : props.loading ? ', loading…' : ', more below'}
      </span>
    </form>
  );
}
