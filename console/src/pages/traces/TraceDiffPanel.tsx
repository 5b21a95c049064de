import { useState } from "preact/hooks";
import { api, type Schemas } from "../../api/client";
import { Busy, ErrorBanner, ListTable, useAsync } from "../../components/ui";
import { cellText } from "../../lib/format";
import {
  DIMENSIONS,
  type Dimension,
  type DiffItem,
  type Divergence,
  describeDivergence,
  describeItem,
  describeOutcome,
} from "./traceDiff";

type Diff = Schemas["DiffResponse"];

function ItemRows(props: { dimension: Dimension; items: DiffItem[]; side: "A" | "B" }) {
  return (
    <>
      {props.items.map((item, i) => (
        <tr key={i}>
          <td>{item.step ?? "—"}</td>
          <td>{describeItem(props.dimension, item)}</td>
          <td>{props.side === "A" ? describeOutcome(props.dimension, item) : "absent"}</td>
          <td>{props.side === "B" ? describeOutcome(props.dimension, item) : "absent"}</td>
        </tr>
      ))}
    </>
  );
}

function ItemsDiff({ dimension, diff }: { dimension: Dimension; diff: Diff }) {
  const changed = diff.changed as { a: DiffItem; b: DiffItem }[];
  const rows = changed.length + diff.added.length + diff.removed.length;
  return (
    <ListTable caption={`${rows} differing ${dimension} items`} columns={["Step", "Item", "A", "B"]}>
      {changed.map((c, i) => (
        <tr key={`c${i}`}>
          <td>{c.a?.step ?? c.b?.step ?? "—"}</td>
          <td>{describeItem(dimension, c.a)}</td>
          <td>{describeOutcome(dimension, c.a)}</td>
          <td>{describeOutcome(dimension, c.b)}</td>
        </tr>
      ))}
      <ItemRows dimension={dimension} items={diff.removed as DiffItem[]} side="A" />
      <ItemRows dimension={dimension} items={diff.added as DiffItem[]} side="B" />
    </ListTable>
  );
}

function OverviewDiff({ diff }: { diff: Diff }) {
  const summary = diff.summary as { a: Record<string, unknown>; b: Record<string, unknown> };
  const changed = new Set((diff.changed as { field: string }[]).map((c) => c.field));
  return (
    <ListTable caption="Overview of both runs" columns={["Field", "A", "B"]}>
      {Object.keys(summary.a).map((field) => (
        <tr key={field} class={changed.has(field) ? "differs" : undefined}>
          <th scope="row">
            {field}
            {changed.has(field) && <span class="sr-only"> (differs)</span>}
          </th>
          <td>{cellText(summary.a[field])}</td>
          <td>{cellText(summary.b[field])}</td>
        </tr>
      ))}
    </ListTable>
  );
}

/** Two traces side by side along one dimension (`GET /v1/traces/diff`): the first place they stop
 * agreeing, in words, then every differing item. */
export function TraceDiffPanel(props: { a: string; b: string; labels: [string, string]; onClose: () => void }) {
  const [dimension, setDimension] = useState<Dimension>("overview");
  // The answer keeps the dimension it was asked for: until the next one arrives, the last is shown
  // as what it is.
  const diff = useAsync(async () => {
    const query = new URLSearchParams({ a: props.a, b: props.b, dimension });
    return { dimension, answer: await api.get<Diff>(`/v1/traces/diff?${query.toString()}`) };
  }, [props.a, props.b, dimension]);
  return (
    <section class="card" aria-labelledby="trace-diff-title">
      <div class="row wrap">
        <h2 id="trace-diff-title" class="grow">
          Compare: A {props.labels[0]} · B {props.labels[1]}
        </h2>
        <label>
          Dimension
          <select value={dimension} onChange={(e) => setDimension(e.currentTarget.value as Dimension)}>
            {DIMENSIONS.map((d) => (
              <option key={d} value={d}>
                {d}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={props.onClose}>
          Close comparison
        </button>
      </div>
      <ErrorBanner error={diff.error} />
      {diff.loading && <Busy label="Comparing…" />}
      {diff.data && (
        <>
          <p role="note" aria-label="First difference">
            {describeDivergence(diff.data.dimension, diff.data.answer.first_divergence as Divergence | null)}
          </p>
          {diff.data.dimension === "overview" ? (
            <OverviewDiff diff={diff.data.answer} />
          ) : (
            <ItemsDiff dimension={diff.data.dimension} diff={diff.data.answer} />
          )}
        </>
      )}
    </section>
  );
}
