/**
 * CPU and size of one customer profile in the anomaly detector's Redis store: the binary form
 * (`encodeProfile` / `decodeProfile` of @ml/anomaly) against JSON (`JSON.stringify` / `JSON.parse`,
 * what builds before 2026-12-05 stored), for profiles of 1, 40 and 300 folded transactions, rounds
 * interleaved. A diagnosis of one layer, not an as-deployed result (that is `npm run bench:anomaly`,
 * redis-batch against memory-batch):
 *
 *   TS_NODE_PROJECT=tools/bench/tsconfig.json TS_NODE_BASEURL=../.. node -r ts-node/register/transpile-only \
 *     -r tsconfig-paths/register tools/bench/src/profile-codec.ts [--iterations 20000] [--rounds 3]
 */
import { parseArgs } from 'node:util';
import { PROFILE_VERSION_2, foldTransaction, type UserProfile } from '@ml/anomaly-features';
import { decodeProfile, encodeProfile } from '@ml/anomaly';
import { median } from './lib/report';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '3' } } });
const iterations = Number(values.iterations);
const rounds = Number(values.rounds);

const HOUR_MS = 3_600_000;
const START = Date.parse('2026-10-01T00:00:00Z');
const CURRENCIES = ['GBP', 'USD', 'EUR'];

/** A customer's profile after `count` everyday purchases (uuid-like ids, three currencies, a few places). */
function profileOf(count: number): UserProfile {
  let p: UserProfile | undefined;
  for (let i = 0; i < count; i++) {
    p = foldTransaction(
      p,
      {
        transaction_id: `3f2b8c1e-9a4d-4b7e-8f1a-${String(i).padStart(12, '0')}`,
        user_id: 'customer',
        amount: 10 + (i % 37) * 3.17,
        currency: CURRENCIES[i % CURRENCIES.length],
        timestamp: new Date(START + i * 1.1 * HOUR_MS).toISOString(),
        merchant_category: 'grocery',
        channel: 'in_store',
        merchant_location: { lat: 51.5 + (i % 5) * 0.01, lon: -0.12 },
        home_location: { lat: 51.5, lon: -0.12 },
      },
      PROFILE_VERSION_2,
    );
  }
  return p as UserProfile;
}

/** µs per call of `fn` over `iterations` calls. */
function usPerCall(fn: () => unknown): number {
  for (let i = 0; i < Math.min(2000, iterations); i++) fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  return Number(process.hrtime.bigint() - start) / iterations / 1000;
}

const fmt = (us: number | undefined) => (us === undefined ? '-' : us.toFixed(1));
console.log('transactions  JSON bytes  binary bytes  stringify µs  encode µs  parse µs  decode µs');
for (const count of [1, 40, 300]) {
  const profile = profileOf(count);
  const json = JSON.stringify(profile);
  const binary = encodeProfile(profile);
  const runs: Record<'stringify' | 'encode' | 'parse' | 'decode', number[]> = { stringify: [], encode: [], parse: [], decode: [] };
  for (let r = 0; r < rounds; r++) {
    runs.stringify.push(usPerCall(() => JSON.stringify(profile)));
    runs.encode.push(usPerCall(() => encodeProfile(profile)));
    runs.parse.push(usPerCall(() => JSON.parse(json)));
    runs.decode.push(usPerCall(() => decodeProfile(binary)));
  }
  console.log(
    [
      String(count).padStart(12),
      String(Buffer.byteLength(json)).padStart(10),
      String(binary.length).padStart(12),
      fmt(median(runs.stringify)).padStart(12),
      fmt(median(runs.encode)).padStart(9),
      fmt(median(runs.parse)).padStart(8),
      fmt(median(runs.decode)).padStart(9),
    ].join('  '),
  );
}
