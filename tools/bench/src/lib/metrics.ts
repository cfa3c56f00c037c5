/** Reads counters out of a Prometheus text exposition (what `GET /metrics` returns). */

/**
 * Sum of every sample of `name` whose labels include all of `labels` (e.g. `{model: "x"}`), or
 * undefined when there is none.
 */
export function sumSamples(exposition: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let total: number | undefined;
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(name) || line.startsWith('#')) continue;
    const rest = line.slice(name.length);
    // `name_sum` must not match `name_sum_extra`: what follows the name is `{`, or a space.
    let labelText = '';
    let valueText: string;
    if (rest.startsWith('{')) {
      const end = rest.indexOf('}');
      if (end < 0) continue;
      labelText = rest.slice(1, end);
      valueText = rest.slice(end + 1).trim();
    } else if (rest.startsWith(' ')) {
      valueText = rest.trim();
    } else {
      continue;
    }
    const sampleLabels = parseLabels(labelText);
    if (!Object.entries(labels).every(([k, v]) => sampleLabels[k] === v)) continue;
    const value = Number(valueText.split(/\s+/)[0]);
    if (Number.isFinite(value)) total = (total ?? 0) + value;
  }
  return total;
}

function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) out[m[1]] = m[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  return out;
}

export interface BatchCounters {
  sum: number;
  count: number;
}

/** An app's `GET /metrics` text, or undefined when it does not answer 200. */
export async function scrapeMetrics(baseUrl: string): Promise<string | undefined> {
  const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
  return res.status === 200 ? res.text() : undefined;
}

/** The `ml_inference_batch_size` histogram totals for one model in a metrics text. */
export function batchCountersIn(text: string, model: string): BatchCounters | undefined {
  const sum = sumSamples(text, 'ml_inference_batch_size_sum', { model });
  const count = sumSamples(text, 'ml_inference_batch_size_count', { model });
  return sum === undefined || count === undefined ? undefined : { sum, count };
}

/** The app's `ml_inference_batch_size` histogram totals for one model. */
export async function scrapeBatchCounters(baseUrl: string, model: string): Promise<BatchCounters | undefined> {
  const text = await scrapeMetrics(baseUrl);
  return text === undefined ? undefined : batchCountersIn(text, model);
}

/** Mean batch size between two scrapes, or undefined when no batch ran in between. */
export function meanBatchBetween(before: BatchCounters | undefined, after: BatchCounters | undefined): number | undefined {
  if (!before || !after) return undefined;
  const runs = after.count - before.count;
  return runs > 0 ? (after.sum - before.sum) / runs : undefined;
}
