// The /v1/ws live-query protocol (docs/live.md) as the console uses it: the SQL of a live tail,
// and a small connection that authenticates, subscribes and hands frames to its owner.

export interface LiveColumn {
  name: string;
  data_type: string;
  index: number;
}

export type LiveRow = Record<string, unknown>;

export type LiveEvent =
  | { kind: "ready"; columns: LiveColumn[]; rows: LiveRow[] }
  | { kind: "rows"; rows: LiveRow[] }
  | { kind: "error"; code: string; message: string }
  | { kind: "closed" };

/** Quote a stream name unless it is a plain identifier (as the SQL guard reads names). */
export function quoteName(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/** The live tail's SELECT: every column of the stream, the newest rows first in the initial batch. */
export function tailSql(stream: string, where: string, initialRows = 50): string {
  const condition = where.trim() ? ` WHERE ${where.trim()}` : "";
  return `SELECT * FROM ${quoteName(stream.trim())}${condition} ORDER BY _timestamp DESC LIMIT ${initialRows}`;
}

export function liveUrl(loc: Location = location): string {
  return `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}/v1/ws`;
}

const SUBSCRIPTION = "tail";

/** Opens the socket, authenticates with ``token``, subscribes to ``sql``; returns the close. */
export function openTail(token: string, sql: string, onEvent: (event: LiveEvent) => void): () => void {
  const socket = new WebSocket(liveUrl());
  let columns: LiveColumn[] = [];
  let closedByUs = false;
  socket.onopen = () => socket.send(JSON.stringify({ type: "authenticate", method: "jwt", token }));
  socket.onmessage = (message) => {
    const frame = JSON.parse(String(message.data)) as Record<string, unknown>;
    switch (frame.type) {
      case "auth_success":
        socket.send(JSON.stringify({ type: "subscribe", subscription: { id: SUBSCRIPTION, sql } }));
        break;
      case "auth_error":
        onEvent({ kind: "error", code: "UNAUTHORIZED", message: String(frame.message) });
        break;
      case "subscription_ack":
        columns = frame.schema as LiveColumn[];
        break;
      case "initial_data_batch":
        onEvent({ kind: "ready", columns, rows: frame.rows as LiveRow[] });
        break;
      case "change":
        if (frame.change_type !== "delete" && Array.isArray(frame.rows)) onEvent({ kind: "rows", rows: frame.rows as LiveRow[] });
        break;
      case "error":
        onEvent({ kind: "error", code: String(frame.code), message: String(frame.message) });
        break;
      default:
        break;
    }
  };
  socket.onclose = () => {
    if (!closedByUs) onEvent({ kind: "closed" });
  };
  return () => {
    closedByUs = true;
    socket.close();
  };
}
