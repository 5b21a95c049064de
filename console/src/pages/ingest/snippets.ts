// Copy-ready set-up for each ingest protocol, filled with this deployment's address and a token.

export interface Snippet {
  title: string;
  body: string;
}

export function ingestSnippets(base: string, token: string): Snippet[] {
  const otlpHeader = `Authorization=Bearer%20${token}`;
  return [
    {
      title: "JSON or NDJSON (curl)",
      body: `curl -X POST ${base}/api/v1/ingest/app \\
  -H "Authorization: Bearer ${token}" \\
  -H "content-type: application/json" \\
  -d '[{"level":"info","msg":"hello"},{"level":"error","msg":"boom"}]'`,
    },
    {
      title: "OpenTelemetry (OTLP/HTTP) exporter environment",
      body: `export OTEL_EXPORTER_OTLP_ENDPOINT=${base}
export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf
export OTEL_EXPORTER_OTLP_HEADERS="${otlpHeader}"`,
    },
    {
      title: "Elasticsearch _bulk (clients, Beats, syslog-ng)",
      body: `# Elasticsearch URL: ${base}/api/v1/es/   (API key / bearer: the token below)
curl -X POST ${base}/api/v1/es/_bulk \\
  -H "Authorization: Bearer ${token}" \\
  -H "content-type: application/x-ndjson" \\
  --data-binary $'{"index":{"_index":"app"}}\\n{"message":"hello"}\\n'`,
    },
    {
      title: "Loki push",
      body: `curl -X POST ${base}/api/v1/loki/api/v1/push \\
  -H "Authorization: Bearer ${token}" \\
  -H "content-type: application/json" \\
  -d '{"streams":[{"stream":{"app":"web"},"values":[["'$(date +%s%N)'","hello"]]}]}'`,
    },
    {
      title: "Prometheus remote_write (prometheus.yml)",
      body: `remote_write:
  - url: ${base}/api/v1/prometheus/api/v1/write
    authorization:
      credentials: ${token}`,
    },
  ];
}
