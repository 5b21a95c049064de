import { useEffect, useRef } from "preact/hooks";

// CodeMirror 6 with SQL highlighting and completion of stream and column names. Loaded lazily:
// the editor is most of the query page's weight, and the sign-in page needs none of it.
// The editor owns its text while the user types: `onChange` reports each edit, and the text is
// replaced from outside only when `preset.revision` changes (an example query, a recent query).
// Feeding every `value` back in would race the user's typing: a render with an older value
// would overwrite the newer text, which reports the older text again, and so on forever.
export function SqlEditor(props: {
  preset: { text: string; revision: number };
  schema: Record<string, string[]>;
  onChange: (sql: string) => void;
  onRun: () => void;
}) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<import("@codemirror/view").EditorView | null>(null);
  // Reconfigures the SQL language when the schema arrives, without rebuilding the editor (a
  // rebuild would drop what the user is typing).
  const language = useRef<{ compartment: import("@codemirror/state").Compartment; make: (schema: Record<string, string[]>) => import("@codemirror/state").Extension } | null>(null);
  const latest = useRef(props);
  latest.current = props;

  useEffect(() => {
    let destroyed = false;
    void (async () => {
      const [{ EditorView, keymap, placeholder }, { basicSetup }, { sql, StandardSQL }, { Compartment, Prec }, { syntaxHighlighting }, { readableHighlight }] =
        await Promise.all([
          import("@codemirror/view"),
          import("codemirror"),
          import("@codemirror/lang-sql"),
          import("@codemirror/state"),
          import("@codemirror/language"),
          import("./highlight"),
        ]);
      if (destroyed || !host.current) return;
      const make = (schema: Record<string, string[]>) => sql({ dialect: StandardSQL, schema, upperCaseKeywords: true });
      language.current = { compartment: new Compartment(), make };
      const run = keymap.of([
        {
          key: "Mod-Enter",
          run: () => {
            latest.current.onRun();
            return true;
          },
        },
      ]);
      view.current = new EditorView({
        doc: latest.current.preset.text,
        parent: host.current,
        extensions: [
          Prec.highest(run),
          Prec.high(syntaxHighlighting(readableHighlight)),
          basicSetup,
          language.current.compartment.of(make(latest.current.schema)),
          placeholder("SELECT * FROM <stream> ORDER BY _timestamp DESC LIMIT 100"),
          EditorView.lineWrapping,
          EditorView.contentAttributes.of({ "aria-label": "SQL query", "aria-multiline": "true", role: "textbox" }),
          EditorView.updateListener.of((update) => {
            if (update.docChanged) latest.current.onChange(update.state.doc.toString());
          }),
        ],
      });
    })();
    return () => {
      destroyed = true;
      view.current?.destroy();
      view.current = null;
    };
  }, []);

  const schemaKey = JSON.stringify(props.schema);
  useEffect(() => {
    const current = view.current;
    const lang = language.current;
    if (current && lang) current.dispatch({ effects: lang.compartment.reconfigure(lang.make(props.schema)) });
  }, [schemaKey]);

  useEffect(() => {
    const current = view.current;
    if (current && current.state.doc.toString() !== props.preset.text) {
      current.dispatch({ changes: { from: 0, to: current.state.doc.length, insert: props.preset.text } });
    }
  }, [props.preset.revision]);

  return <div class="editor" ref={host} />;
}
