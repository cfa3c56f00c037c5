/*
 * The measurements behind the trainer's choices (README, "What each choice bought"): trains
 * variants on Banking77's train.csv with the shipped hold-out (10%, seed 7) and prints top-1
 * accuracy on the held-out real queries and on their typo'd copy, and, per threshold policy,
 * accuracy as served and the share of the repo's out-of-scope validation answered unknown.
 * Not part of the build or the tests. Example:
 *   npx ts-node --transpile-only -P tools/intent-trainer/tsconfig.json tools/intent-trainer/scripts/experiment.ts \
 *     ../shared/data/banking77/train.csv '[{"name":"b","cs":[20],"oos":true,"typoAug":4,"augInScopeOnly":true,
 *       "f":{"charNgrams":{"min":2,"max":4},"maxFeatures":20000,"maxWordFeatures":5000}}]'
 * A variant may name its out-of-scope training file (`"oosPath"`, default data/out-of-scope/train.tsv)
 * and the out-of-scope set it reports (`"oosEval"`, default data/out-of-scope/validation.tsv).
 */
import { join } from 'node:path';
import { parseTsv, readSplit } from '../src/dataset';
import { readFileSync } from 'node:fs';
import { buildVocabulary, type FeaturizerConfig } from '../src/featurizer';
import { fitSoftmax, predictProbabilities, type SoftmaxModel } from '../src/logistic-regression';
import { argmaxRow, confidenceThreshold } from '../src/metrics';
import { featurize, tokenize } from '../src/onnx-features';
import { SoftmaxProblem } from '../src/softmax-problem';
import { loadSources, readSource, type SourceSpec } from '../src/sources';
import { FEATURES, LBFGS } from '../src/trainer';

const DATA = join(__dirname, '..', 'data');
async function main() {
  const csv = process.argv[2];
  const variants: Array<{ name: string; f?: Partial<FeaturizerConfig>; cs: number[]; oos?: boolean; written?: boolean; typoAug?: number; augInScopeOnly?: boolean; seed?: number; iters?: number; typoRate?: number; oosPath?: string; oosEval?: string }> = JSON.parse(process.argv[3]);
  for (const v of variants) {
    const extra: SourceSpec[] = [];
    if (v.written) extra.push({ path: join(DATA, 'train'), name: 'written' });
    if (v.oos) extra.push({ path: v.oosPath ?? join(DATA, 'out-of-scope', 'train.tsv'), name: 'oos' });
    const real = loadSources({ dataDir: DATA, sources: [{ path: csv, name: 'banking77' }], labelsFromData: true, reservedLabel: 'unknown', holdout: { fraction: 0.1, seed: v.seed ?? 7 } });
    const norm = (t: string) => t.toLowerCase().replace(/\s+/g, ' ').trim();
    const valTexts = new Set(real.validation.map((e) => norm(e.text)));
    const seenX = new Set(real.train.map((e) => norm(e.text))); const extraRows = extra.flatMap((x) => readSource(x).examples).filter((e) => { const k = norm(e.text); if (valTexts.has(k) || seenX.has(k)) return false; seenX.add(k); return true; });
    if (v.typoAug) { const { typoCopy } = require('../src/typos'); const base = [...real.train, ...extraRows].filter((e) => !(v.augInScopeOnly && e.label === 'out_of_scope')); for (let c = 0; c < Number(v.typoAug); c++) extraRows.push(...typoCopy(base, 13 + c, v.typoRate ? { rate: v.typoRate } : {})); }
    const data = { train: [...real.train, ...extraRows], validation: real.validation, labels: [...new Set([...real.labels, ...extraRows.map((e) => e.label)])].sort() };
    const labels = data.labels;
    const idx = new Map(labels.map((l, i) => [l, i]));
    const oosIdx = idx.get('out_of_scope') ?? -1;
    const valIn = data.validation;
    const oosVal = parseTsv(readFileSync(v.oosEval ?? join(DATA, 'out-of-scope', 'validation.tsv'), 'utf8'), 'oos').map((e) => e.text);
    const written = readSplit(DATA, 'validation');
    const cfg = { ...FEATURES, ...(v.f ?? {}) } as FeaturizerConfig;
    const t0 = Date.now();
    const vocab = buildVocabulary(await tokenize(data.train.map((e) => e.text), cfg), cfg);
    const xTrain = await featurize(data.train.map((e) => e.text), cfg, vocab);
    const xVal = await featurize(valIn.map((e) => e.text), cfg, vocab);
    const xOos = await featurize(oosVal, cfg, vocab);
    const xW = await featurize(written.map((e) => e.text), cfg, vocab);
    const { typoCopy } = require('../src/typos');
    const xTypo = await featurize(typoCopy(valIn, 12).map((e: { text: string }) => e.text), cfg, vocab);
    const yTrain = Int32Array.from(data.train, (e) => idx.get(e.label) as number);
    const yVal = Int32Array.from(valIn, (e) => idx.get(e.label) as number);
    const yW = Int32Array.from(written, (e) => idx.get(e.label) ?? -1);
    const problem = new SoftmaxProblem(xTrain, yTrain, labels.length);
    let warm: SoftmaxModel | undefined;
    const K = labels.length;
    // best in-scope label and its probability, and whether the reject class wins
    const answer = (p: Float64Array, i: number) => {
      let best = -1;
      for (let k = 0; k < K; k++) if (k !== oosIdx && (best < 0 || p[i * K + k] > p[i * K + best])) best = k;
      const top = argmaxRow(p, K, i);
      return { best, conf: p[i * K + best], rejected: top === oosIdx };
    };
    try {
      for (const c of v.cs) {
        const fit = fitSoftmax(problem, { ...LBFGS, ...(v.iters ? { maxIterations: v.iters } : {}), c, warmStart: warm });
        warm = fit.model;
        const pv = predictProbabilities(fit.model, xVal);
        const av = Array.from(yVal, (_, i) => answer(pv, i));
        const acc = av.filter((a, i) => a.best === yVal[i]).length / av.length;
        // threshold over confidences of the non-rejected; rejected count as unknown already
        const rejectedIn = av.filter((a) => a.rejected).length;
        const confs = Float64Array.from(av.filter((a) => !a.rejected).map((a) => a.conf));
        const po = predictProbabilities(fit.model, xOos);
        const pt = predictProbabilities(fit.model, xTypo);
        const accTypo = valIn.filter((_, i) => answer(pt, i).best === yVal[i]).length / valIn.length;
        const parts: string[] = [];
        for (const rate of [0.005, 0.01, 0.02]) {
          const budget = Math.max(0, rate - rejectedIn / av.length) * av.length / Math.max(1, confs.length);
          const thr = rate * av.length < rejectedIn ? 0 : confidenceThreshold(confs, budget);
          const accThr = av.filter((a, i) => !a.rejected && a.conf >= thr && a.best === yVal[i]).length / av.length;
          const oosUnknown = oosVal.filter((_, i) => { const a = answer(po, i); return a.rejected || a.conf < thr; }).length / oosVal.length;
          const accTypoThr = valIn.filter((_, i) => { const a = answer(pt, i); return !a.rejected && a.conf >= thr && a.best === yVal[i]; }).length / valIn.length;
          parts.push(`[${rate}: thr=${thr.toFixed(3)} acc=${accThr.toFixed(4)} typo=${accTypoThr.toFixed(4)} oos=${oosUnknown.toFixed(4)}]`);
        }
        {
          const at = Array.from(yVal, (_, i) => answer(pt, i));
          const both = [...av, ...at];
          const rej = both.filter((a) => a.rejected).length;
          const cf = Float64Array.from(both.filter((a) => !a.rejected).map((a) => a.conf));
          for (const rate of [0, 0.01, 0.02]) {
            const budget = Math.max(0, rate - rej / both.length) * both.length / Math.max(1, cf.length);
            const thr = rate === 0 || rate * both.length < rej ? 0 : confidenceThreshold(cf, budget);
            const accThr = av.filter((a, i) => !a.rejected && a.conf >= thr && a.best === yVal[i]).length / av.length;
            const unk = av.filter((a) => a.rejected || a.conf < thr).length / av.length;
            const oosUnknown = oosVal.filter((_, i) => { const a = answer(po, i); return a.rejected || a.conf < thr; }).length / oosVal.length;
            const accTypoThr = at.filter((a, i) => !a.rejected && a.conf >= thr && a.best === yVal[i]).length / at.length;
            parts.push(`{union ${rate}: thr=${thr.toFixed(3)} unk=${unk.toFixed(4)} acc=${accThr.toFixed(4)} typo=${accTypoThr.toFixed(4)} oos=${oosUnknown.toFixed(4)}}`);
          }
        }
        const pw = predictProbabilities(fit.model, xW);
        const accW = written.filter((_, i) => answer(pw, i).best === yW[i]).length / written.length;
        console.log(
          `${v.name}\tseed=${v.seed ?? 7}\tC=${c}\tfeat=${vocab.word.length}+${vocab.char.length}\tacc=${acc.toFixed(4)}\trej=${rejectedIn}\ttypo=${accTypo.toFixed(4)}\t${parts.join(' ')}\twritten=${accW.toFixed(4)}\tit=${fit.iterations}\t${((Date.now() - t0) / 1000).toFixed(0)}s`,
        );
      }
    } finally {
      await problem.close();
    }
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
