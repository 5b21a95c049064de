// Drives the official npm Elasticsearch client against MoleSignal, configured with only a
// URL and a credential: info(), ping(), then helpers.bulk. Prints one JSON line of results.
//   node elasticsearch.mjs <base url> <bearer|basic|apikey> <token> <index> <count>
import { Client } from "@elastic/elasticsearch";

const [url, scheme, token, index, count] = process.argv.slice(2);
const auth = {
  bearer: { bearer: token },
  basic: { username: "molesignal", password: token },
  apikey: { apiKey: token },
}[scheme];
const client = new Client({ node: url, auth });

const info = await client.info();
const ping = await client.ping();
const documents = Array.from({ length: Number(count) }, (_, n) => ({ n, msg: `js doc ${n}` }));
const stats = await client.helpers.bulk({
  datasource: documents,
  onDocument: () => ({ index: { _index: index } }),
  flushBytes: 2000, // several _bulk requests
});
console.log(JSON.stringify({ version: info.version.number, tagline: info.tagline, ping, stats }));
await client.close();
