/**
 * Per-transaction CPU of each feature set in the serving path (features, contributions, reasons,
 * fold), on three simulated customers of pop-in-ae, two passes each (the second is warm):
 *   TS_NODE_PROJECT=tools/anomaly-trainer/tsconfig.lib.json TS_NODE_BASEURL=../.. node -r ts-node/register/transpile-only \
 *     -r tsconfig-paths/register tools/anomaly-trainer/scripts/cost.ts
 */
import { FEATURES_V1, FEATURES_V2, TreeEnsemble, type FeatureSet, type UserProfile } from '@ml/anomaly-features';
import { readFileSync } from 'node:fs';
import { simulate } from '../src/lib/simulator';
import { POPULATIONS } from '../src/lib/sim.populations';
const cfg = POPULATIONS.find((p) => p.name === "pop-in-ae");
if (!cfg) throw new Error("pop-in-ae missing");
const streams = [...simulate(cfg, 3)];
for (const [set, ver] of [[FEATURES_V1, '1.0.0'], [FEATURES_V2, '2.0.0'], [FEATURES_V1, '1.0.0'], [FEATURES_V2, '2.0.0']] as [FeatureSet, string][]) {
  const trees = TreeEnsemble.fromJSON(JSON.parse(readFileSync(`models/anomaly-detector/${ver}/trees.json`, 'utf8')));
  let tf = 0, tc = 0, tr = 0, tfold = 0, n = 0;
  for (const s of streams) {
    let p: UserProfile | undefined;
    for (const t of s.transactions) {
      let a = process.hrtime.bigint();
      const f = set.compute(p, t.tx);
      let b = process.hrtime.bigint(); tf += Number(b - a);
      const c = trees.contributions(f.vector);
      a = process.hrtime.bigint(); tc += Number(a - b);
      set.rankReasons(c.values, f, t.tx, p);
      b = process.hrtime.bigint(); tr += Number(b - a);
      if (f.tx) p = set.foldInto(p, f.tx);
      a = process.hrtime.bigint(); tfold += Number(a - b);
      n++;
    }
  }
  console.log(ver, n, `features ${(tf / n / 1000).toFixed(1)} us, contributions ${(tc / n / 1000).toFixed(1)} us, reasons ${(tr / n / 1000).toFixed(1)} us, fold ${(tfold / n / 1000).toFixed(1)} us`);
}
