import { useState } from "preact/hooks";
import { fromLocalInput, isRelative, PRESETS, resolveMs, type TimeRangeSpec, toLocalInput } from "../../lib/timerange";

export function TimeRangePicker({ value, onChange }: { value: TimeRangeSpec; onChange: (spec: TimeRangeSpec) => void }) {
  const preset = value.to === "now" && PRESETS.some((p) => p.from === value.from) ? value.from : "custom";
  const [custom, setCustom] = useState(preset === "custom");
  const now = Date.now();
  const fromMs = resolveMs(value.from, now) ?? now - 3_600_000;
  const toMs = resolveMs(value.to, now) ?? now;
  return (
    <fieldset class="timerange">
      <legend>Time range</legend>
      <label>
        Range
        <select
          value={custom ? "custom" : preset}
          onChange={(e) => {
            const choice = e.currentTarget.value;
            if (choice === "custom") {
              setCustom(true);
              onChange({ from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString() });
            } else {
              setCustom(false);
              onChange({ from: choice, to: "now" });
            }
          }}
        >
          {PRESETS.map((p) => (
            <option key={p.from} value={p.from}>
              {p.label}
            </option>
          ))}
          <option value="custom">Custom range…</option>
        </select>
      </label>
      {custom && (
        <>
          <label>
            From
            <input
              type="datetime-local"
              value={toLocalInput(fromMs)}
              onChange={(e) => {
                const iso = fromLocalInput(e.currentTarget.value);
                if (iso) onChange({ ...value, from: iso, to: isRelative(value.to) ? new Date(toMs).toISOString() : value.to });
              }}
            />
          </label>
          <label>
            To
            <input
              type="datetime-local"
              value={toLocalInput(toMs)}
              onChange={(e) => {
                const iso = fromLocalInput(e.currentTarget.value);
                if (iso) onChange({ ...value, to: iso });
              }}
            />
          </label>
        </>
      )}
    </fieldset>
  );
}
