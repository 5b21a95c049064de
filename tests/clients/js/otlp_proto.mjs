// Exports spans with the npm OTLP/HTTP protobuf exporter, configured with only a URL and a
// credential, and reports the export result and every diagnostic the exporter logged (it
// decodes the answer as an ExportTraceServiceResponse and warns when it cannot).
//   node otlp_proto.mjs <base url> <authorization header value> <span count>
import { diag, DiagLogLevel } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import sdkTrace from "@opentelemetry/sdk-trace";

const { TracerProvider, SimpleSpanProcessor } = sdkTrace;

const [url, authorization, count] = process.argv.slice(2);
const logged = [];
const keep = (level) => (...args) => logged.push({ level, message: args.map(String).join(" ") });
diag.setLogger(
  { error: keep("error"), warn: keep("warn"), info: keep("info"), debug: () => {}, verbose: () => {} },
  DiagLogLevel.INFO,
);

const exporter = new OTLPTraceExporter({ url: `${url}/v1/traces`, headers: { Authorization: authorization } });
const results = [];
const recording = {
  export: (spans, done) => exporter.export(spans, (result) => { results.push(result); done(result); }),
  shutdown: () => exporter.shutdown(),
  forceFlush: () => exporter.forceFlush(),
};
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: recording })] });
const tracer = provider.getTracer("molesignal-js-test");
for (let n = 0; n < Number(count); n++) {
  const span = tracer.startSpan(`js span ${n}`, { attributes: { n } });
  span.end();
}
await provider.forceFlush();
await provider.shutdown();
console.log(JSON.stringify({
  results: results.map((r) => ({ code: r.code, error: r.error ? String(r.error) : null })),
  logged,
}));
