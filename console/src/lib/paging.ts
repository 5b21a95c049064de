// Client-side paging of a result set.

export interface Page<T> {
  rows: T[];
  page: number; // 0-based, clamped into range
  pages: number; // at least 1
  first: number; // 1-based index of the first row shown, 0 when empty
  last: number; // 1-based index of the last row shown
  total: number;
}

export function pageOf<T>(rows: readonly T[], page: number, size: number): Page<T> {
  if (size < 1) throw new RangeError("page size must be at least 1");
  const total = rows.length;
  const pages = Math.max(1, Math.ceil(total / size));
  const clamped = Math.min(Math.max(0, Math.floor(page)), pages - 1);
  const start = clamped * size;
  const slice = rows.slice(start, start + size);
  return { rows: slice, page: clamped, pages, first: total ? start + 1 : 0, last: start + slice.length, total };
}
