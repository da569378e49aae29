// A table that stays instant whatever the number of rows: only the rows in
// view (plus a few either side) are in the DOM, each at a fixed height,
// absolutely placed inside a spacer as tall as all the rows. The header
// stays on top while the body scrolls, and scrolls sideways with it.
//
// The table does not sort or fetch by itself: a click on a sortable header
// calls onSort, and onNearEnd asks the owner for the next page when the
// view comes close to the last loaded row (server-side search and paging).

import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';
import { useVirtualRows } from './virtual_rows';

export interface Column<T> {
  id: string;
  header: ComponentChildren;
  width: number;
  render: (row: T, index: number) => ComponentChildren;
  sortable?: boolean;
  align?: 'left' | 'right' | 'center';
  title?: string;
}

export interface SortState {
  column: string;
  ascending: boolean;
}

interface Props<T> {
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string;
  rowHeight?: number;
  sort?: SortState | null;
  onSort?: (column: string) => void;
  onNearEnd?: () => void;
  empty?: ComponentChildren;
  label?: string;
  testId?: string;
}

const OVERSCAN = 8;
const NEAR_END = 50;

export function VirtualTable<T>(props: Props<T>) {
  const rowHeight = props.rowHeight ?? 30;
  const count = props.rows.length;
  const { scroller, onScroll, first, last } = useVirtualRows(count, rowHeight, OVERSCAN);

  useEffect(() => {
    if (props.onNearEnd && count > 0 && last >= count - NEAR_END) props.onNearEnd();
  }, [last, count, props.onNearEnd]);

  const width = props.columns.reduce((sum, column) => sum + column.width, 0);
  const cellStyle = (column: Column<T>) => ({
    width: `${column.width}px`,
    textAlign: column.align ?? 'left',
  });

  const visible = [];
  for (let i = first; i < last; i++) {
    const row = props.rows[i];
    visible.push(
      <div
        class="vt-row"
        role="row"
        aria-rowindex={i + 2}
        key={props.rowKey(row)}
        data-key={props.rowKey(row)}
        style={{ top: `${i * rowHeight}px`, height: `${rowHeight}px`, width: `${width}px` }}
      >
        {props.columns.map((column) => (
          <div class="vt-cell" role="cell" style={cellStyle(column)} key={column.id}>
            {column.render(row, i)}
          </div>
        ))}
      </div>,
    );
  }

  return (
    <div
      class="vt"
      role="table"
      aria-label={props.label}
      aria-rowcount={count + 1}
      data-testid={props.testId}
      ref={scroller}
      onScroll={onScroll}
    >
      <div class="vt-header" role="row" aria-rowindex={1} style={{ width: `${width}px` }}>
        {props.columns.map((column) => {
          const sorted = props.sort?.column === column.id ? props.sort : null;
          const sortable = column.sortable && props.onSort;
          return (
            <div
              class={`vt-cell vt-head${sortable ? ' sortable' : ''}`}
              role="columnheader"
              key={column.id}
              title={column.title}
              data-column={column.id}
              aria-sort={sorted ? (sorted.ascending ? 'ascending' : 'descending') : undefined}
              style={cellStyle(column)}
              onClick={sortable ? () => props.onSort!(column.id) : undefined}
            >
              {column.header}
              {sorted && <span class="sort-mark">{sorted.ascending ? ' ▲' : ' ▼'}</span>}
            </div>
          );
        })}
      </div>
      <div class="vt-body" role="rowgroup" style={{ height: `${count * rowHeight}px`, width: `${width}px` }}>
        {visible}
      </div>
      {count === 0 && props.empty && <div class="vt-empty">{props.empty}</div>}
    </div>
  );
}
