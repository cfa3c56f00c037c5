import { TreeEnsemble } from '@ml/anomaly-features';
import { DEFAULT_PARAMS } from './gbdt';
import { scoreWithOnnxRuntime } from './onnx.runtime';
import {
  DEFAULT_PIPELINE,
  runPipeline,
  sha256,
  type PipelineOptions,
} from './pipeline';
import { SHIFTED_CONFIG, TRAINING_CONFIG } from './sim.config';

const OPTIONS: PipelineOptions = {
  ...DEFAULT_PIPELINE,
  trainConfig: { ...TRAINING_CONFIG, days: 60, warmupDays: 20 },
  shiftedConfig: { ...SHIFTED_CONFIG, days: 20, warmupDays: 10 },
  trainDays: 36,
  validDays: 12,
  params: { ...DEFAULT_PARAMS, maxTrees: 12, minTrees: 4, minChildRows: 10 },
  scoreOnnx: scoreWithOnnxRuntime,
};
const CUSTOMERS = { train: 100, shifted: 30 };
// Two small end-to-end trainings: seconds on an idle machine, more on a busy CI runner.
const SLOW_MS = 90_000;

describe('runPipeline', () => {
  it(
    'produces the same bytes for the same seed, with a consistent manifest',
    async () => {
      const a = await runPipeline(OPTIONS, CUSTOMERS);
      const b = await runPipeline(OPTIONS, CUSTOMERS);
      expect(Buffer.from(b.onnx).equals(Buffer.from(a.onnx))).toBe(true);
      expect(b.treesJson).toBe(a.treesJson);
      expect(b.manifestJson).toBe(a.manifestJson);

      const m = JSON.parse(a.manifestJson);
      expect(m.sha256).toBe(sha256(a.onnx));
      expect(m.trees_sha256).toBe(sha256(a.treesJson));
      expect(m.threshold).toBeGreaterThan(0);
      expect(m.evaluation.held_out.rows).toBeGreaterThan(0);
      expect(m.evaluation.shifted_population.rows).toBeGreaterThan(0);
      expect(m.training.trees).toBe(
        TreeEnsemble.fromJSON(JSON.parse(a.treesJson)).trees.length,
      );
    },
    SLOW_MS,
  );

  it(
    'refuses to ship a model onnxruntime does not reproduce',
    async () => {
      const broken: PipelineOptions = {
        ...OPTIONS,
        scoreOnnx: async (model, x, rows, f) =>
          (await scoreWithOnnxRuntime(model, x, rows, f)).map((s) => s + 1e-3),
      };
      await expect(
        runPipeline(broken, { train: 40, shifted: 10 }),
      ).rejects.toThrow(/ONNX parity failed/);
    },
    SLOW_MS,
  );
});
