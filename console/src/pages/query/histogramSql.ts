/** The companion query behind the histogram: the user's query as a subquery, counted per bucket. */
export function histogramSql(sql: string, bucketMicros: number): string {
  const inner = sql.trim().replace(/;+\s*$/, "");
  return `SELECT _timestamp // ${bucketMicros} AS bucket, count(*) AS n FROM (${inner}) AS q GROUP BY 1 ORDER BY 1`;
}
