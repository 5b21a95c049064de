import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { describe } from "../api/errors";

export function ErrorBanner({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <div role="alert" class="banner error">
      {describe(error)}
    </div>
  );
}

export function Notice({ children }: { children: ComponentChildren }) {
  return (
    <div role="status" class="banner notice">
      {children}
    </div>
  );
}

export function Busy({ label }: { label: string }) {
  return (
    <p role="status" aria-live="polite" class="busy">
      <span class="spinner" aria-hidden="true" /> {label}
    </p>
  );
}

export interface Async<T> {
  data: T | null;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Load something when the component mounts (and when `deps` change); errors are kept, not thrown. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): Async<T> {
  const [state, setState] = useState<{ data: T | null; error: unknown; loading: boolean }>({
    data: null,
    error: null,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  // The render that follows a change of `deps` comes before the effect that starts the new load:
  // it must not present the last answer as the answer to the new `deps` (a pager would show
  // "page 2" over page 1's rows for that render).
  const current = [...deps, tick];
  const started = useRef<unknown[] | null>(null);
  const stale =
    started.current === null ||
    started.current.length !== current.length ||
    current.some((value, i) => !Object.is(value, started.current?.[i]));
  useEffect(() => {
    started.current = current;
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error: unknown) => live && setState({ data: null, error, loading: false }),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, loading: state.loading || stale, reload };
}

/** A modal confirmation that names what will happen; the user types `expect` when it is given. */
export function ConfirmDialog(props: {
  title: string;
  message: string;
  confirmLabel: string;
  expect?: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [typed, setTyped] = useState("");
  useEffect(() => {
    const node = dialog.current;
    if (node && !node.open) node.showModal();
  }, []);
  const ready = !props.expect || typed === props.expect;
  return (
    <dialog ref={dialog} aria-labelledby="confirm-title" onCancel={props.onCancel} class="confirm">
      <form
        method="dialog"
        onSubmit={(event) => {
          event.preventDefault();
          if (ready) props.onConfirm();
        }}
      >
        <h2 id="confirm-title">{props.title}</h2>
        <p>{props.message}</p>
        {props.expect && (
          <label>
            Type <strong>{props.expect}</strong> to confirm
            <input value={typed} onInput={(e) => setTyped(e.currentTarget.value)} autoFocus />
          </label>
        )}
        <div class="row">
          <button type="button" onClick={props.onCancel}>
            Cancel
          </button>
          <button type="submit" class="danger" disabled={!ready}>
            {props.confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}

export function CopyBlock({ label, text }: { label: string; text: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <figure class="copy">
      <figcaption>
        <span>{label}</span>
        <button
          type="button"
          aria-label={`Copy ${label}`}
          onClick={() => {
            void navigator.clipboard?.writeText(text).then(() => {
              setCopied(true);
              setTimeout(() => setCopied(false), 1500);
            });
          }}
        >
          {copied ? "Copied" : "Copy"}
        </button>
      </figcaption>
      <pre tabIndex={0} aria-label={label}>
        <code>{text}</code>
      </pre>
    </figure>
  );
}

/** Newer/older buttons over a cursor-paged listing: `cursors` is the stack of pages opened so far. */
export function CursorPager(props: {
  label: string;
  noun: string;
  cursors: string[];
  next: string | null | undefined;
  onChange: (cursors: string[]) => void;
}) {
  const { cursors, next, onChange } = props;
  return (
    <nav class="pager" aria-label={props.label}>
      <button type="button" disabled={!cursors.length} onClick={() => onChange(cursors.slice(0, -1))}>
        Newer {props.noun}
      </button>
      <button type="button" disabled={!next} onClick={() => next && onChange([...cursors, next])}>
        Older {props.noun}
      </button>
    </nav>
  );
}

export interface Action {
  error: unknown;
  notice: string;
  setError: (error: unknown) => void;
  /** Run an API call; on success say `done` in the status region and call `after`, else show the error. */
  run: (done: string, call: () => Promise<unknown>, after?: () => void) => Promise<void>;
}

export function useAction(): Action {
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState("");
  const run = useCallback(async (done: string, call: () => Promise<unknown>, after?: () => void) => {
    setError(null);
    setNotice("");
    try {
      await call();
      setNotice(done);
      after?.();
    } catch (caught) {
      setError(caught);
    }
  }, []);
  return { error, notice, setError, run };
}

/** A listing: a scrollable table with a caption, one header per column and, when `actions`, a
 * last column (named for screen readers) for each row's buttons. `children` are the rows. */
export function ListTable(props: { caption: string; columns: string[]; actions?: boolean; children: ComponentChildren }) {
  return (
    <div class="table-scroll">
      <table>
        <caption>{props.caption}</caption>
        <thead>
          <tr>
            {props.columns.map((column) => (
              <th scope="col" key={column}>
                {column}
              </th>
            ))}
            {props.actions && (
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}
