import { useState } from "preact/hooks";
import { cellText } from "../../lib/format";
import { pageOf } from "../../lib/paging";

const PAGE_SIZE = 50;

export function ResultsTable({ columns, rows }: { columns: string[]; rows: Record<string, unknown>[] }) {
  const [page, setPage] = useState(0);
  const view = pageOf(rows, page, PAGE_SIZE);
  if (!rows.length) return <p role="status">No rows matched.</p>;
  return (
    <div class="results">
      <div class="table-scroll" tabIndex={0} role="region" aria-label="Query results">
        <table>
          <caption>
            Rows {view.first} to {view.last} of {view.total}
          </caption>
          <thead>
            <tr>
              {columns.map((c) => (
                <th key={c} scope="col">
                  {c}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {view.rows.map((row, i) => (
              <tr key={view.first + i}>
                {columns.map((c) => (
                  <td key={c}>{cellText(row[c])}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <nav class="pager" aria-label="Result pages">
        <button type="button" onClick={() => setPage(view.page - 1)} disabled={view.page === 0}>
          Previous page
        </button>
        <span>
          Page {view.page + 1} of {view.pages}
        </span>
        <button type="button" onClick={() => setPage(view.page + 1)} disabled={view.page >= view.pages - 1}>
          Next page
        </button>
      </nav>
    </div>
  );
}
