import { FEATURES_V2, TreeEnsemble } from '@ml/anomaly-features';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { scoreWithOnnxRuntime } from './onnx.runtime';
import { sha256 } from './pipeline';
import { DEFAULT_PIPELINE_2, buildData, scoresOf, UNTOUCHED_NAMES, VALIDATION_NAMES } from './pipeline2';

const DIR = join(__dirname, '..', '..', '..', '..', 'models', 'anomaly-detector', '2.0.0');
const files = {
  onnx: readFileSync(join(DIR, 'model.onnx')),
  trees: readFileSync(join(DIR, 'trees.json'), 'utf8'),
  manifest: readFileSync(join(DIR, 'manifest.json'), 'utf8'),
};
const manifest = JSON.parse(files.manifest);

interface PopulationFigures {
  name: string;
  role: string;
  roc_auc: number;
  pr_auc: number;
  fraud: number;
}

describe('shipped anomaly-detector 2.0.0', () => {
  it('matches its manifest and names feature version 2', () => {
    expect(manifest).toMatchObject({ name: 'anomaly-detector', version: '2.0.0', feature_version: FEATURES_V2.version, profile_version: 2 });
    expect(manifest.feature_names).toEqual([...FEATURES_V2.names]);
    expect(manifest.sha256).toBe(sha256(files.onnx));
    expect(manifest.trees_sha256).toBe(sha256(files.trees));
    expect(manifest.inputs[0].shape).toEqual(['N', FEATURES_V2.count]);
    // The default threshold is the 0.5 % operating point, and every point is listed with its figures.
    const points = manifest.operating_points as { alert_rate: number; threshold: number; precision: number; recall: number }[];
    expect(points.map((p) => p.alert_rate)).toEqual([0.001, 0.002, 0.005, 0.01, 0.02]);
    expect(manifest.threshold).toBe(points.find((p) => p.alert_rate === 0.005)?.threshold);
    for (let i = 1; i < points.length; i++) expect(points[i].threshold).toBeLessThan(points[i - 1].threshold);
  });

  it('reports every population it never trained on, by role, with the untouched ones above the floor', () => {
    const pops = manifest.evaluation.populations as PopulationFigures[];
    expect(pops.filter((p) => p.role === 'validation').map((p) => p.name).sort()).toEqual([...VALIDATION_NAMES].sort());
    expect(pops.filter((p) => p.role === 'untouched').map((p) => p.name).sort()).toEqual([...UNTOUCHED_NAMES].sort());
    for (const p of pops) {
      expect(p.fraud).toBeGreaterThan(100);
      expect(p.roc_auc).toBeGreaterThan(0.93);
      expect(p.pr_auc).toBeGreaterThan(0.2);
    }
    expect(manifest.evaluation.worst_untouched_roc_auc).toBe(Math.min(...pops.filter((p) => p.role === 'untouched').map((p) => p.roc_auc)));
  });

  it(
    'scores the same in onnxruntime as the TS trees behind the contributions (an untouched population)',
    async () => {
      const pop = DEFAULT_PIPELINE_2.populations.filter((p) => p.cfg.name === 'pop-in-ae');
      const { data } = buildData({ ...DEFAULT_PIPELINE_2, populations: pop, customerShare: 0.25 });
      const rows = data[0].rows;
      expect(rows.positives()).toBeGreaterThan(10);
      const model = TreeEnsemble.fromJSON(JSON.parse(files.trees));
      const ts = scoresOf(model, rows);
      const onnx = await scoreWithOnnxRuntime(files.onnx, rows.x, rows.length, rows.featureCount);
      let max = 0;
      for (let i = 0; i < rows.length; i++) max = Math.max(max, Math.abs(onnx[i] - ts[i]));
      expect(max).toBeLessThan(1e-5);
    },
    120_000,
  );

  // The whole recipe in a child process (the documented command; not instrumented for coverage):
  // 16 populations simulated and replayed, the trees fitted, ONNX exported and compared with the
  // shipped bytes. About two minutes on an idle machine; more on a busy 2-core runner.
  it(
    'is what the recipe trains, byte for byte (npm run train:anomaly -- --check)',
    async () => {
      const root = join(__dirname, '..', '..', '..', '..');
      const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('TS_NODE_')));
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['-r', require.resolve('ts-node/register/transpile-only'), '-r', require.resolve('tsconfig-paths/register'), 'tools/anomaly-trainer/src/main.ts', '--check'],
        { cwd: root, env: { ...env, TS_NODE_PROJECT: join(root, 'tools', 'anomaly-trainer', 'tsconfig.lib.json'), TS_NODE_BASEURL: root }, maxBuffer: 16 * 1024 * 1024 },
      );
      expect(stdout).toMatch(/worst_untouched_roc_auc: 0\.9\d+/);
      expect(stdout).toMatch(/done in [\d.]+ s/);
      expect(stdout).not.toMatch(/differs from a fresh training/);
    },
    1_200_000,
  );
});
