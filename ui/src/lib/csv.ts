// A small RFC 4180 reader for artifact previews: fields in double quotes may
// hold the separator, newlines and doubled quotes (""); rows end at LF or
// CRLF. Stops after `maxRows` rows and says whether there were more.

export interface ParsedTable {
  rows: string[][];
  truncated: boolean;
}

export function parseDelimited(text: string, separator: string, maxRows: number): ParsedTable {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const n = text.length;
  // A byte-order mark is not part of the first header.
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  const endRow = () => {
    row.push(field);
    rows.push(row);
    row = [];
    field = '';
  };
  while (i < n) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i += 1;
        continue;
      }
      field += c;
      i += 1;
      continue;
    }
    if (c === '"' && field === '') {
      quoted = true;
      i += 1;
    } else if (c === separator) {
      row.push(field);
      field = '';
      i += 1;
    } else if (c === '\n' || c === '\r') {
      endRow();
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      if (rows.length >= maxRows) return { rows, truncated: i < n };
    } else {
      field += c;
      i += 1;
    }
  }
  if (field !== '' || row.length > 0) endRow();
  return { rows, truncated: false };
}
