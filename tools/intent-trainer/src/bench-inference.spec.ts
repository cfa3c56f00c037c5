import { kernelTimes } from './bench-inference';

describe('kernelTimes (onnxruntime profile -> time per node and run)', () => {
  it('sums each node kernel time over the runs, ignores other events, and sorts slowest first', () => {
    const events = [
      { cat: 'Session', name: 'model_run', dur: 1000 },
      { cat: 'Node', name: 'scores_fence_before', dur: 0, args: { op_name: 'Gemm' } },
      { cat: 'Node', name: 'scores_kernel_time', dur: 300, args: { op_name: 'Gemm' } },
      { cat: 'Node', name: 'char_unit_kernel_time', dur: 100, args: { op_name: 'LpNormalization' } },
      { cat: 'Node', name: 'scores_kernel_time', dur: 500, args: { op_name: 'Gemm' } },
      { cat: 'Node', name: 'char_unit_kernel_time', dur: 140, args: { op_name: 'LpNormalization' } },
      { cat: 'Node', name: 'probabilities_kernel_time', dur: 6 },
    ];
    expect(kernelTimes(events, 2)).toEqual([
      { node: 'scores', op: 'Gemm', us: 400 },
      { node: 'char_unit', op: 'LpNormalization', us: 120 },
      { node: 'probabilities', op: '?', us: 3 },
    ]);
  });

  it('is empty for a profile without node events', () => {
    expect(kernelTimes([{ cat: 'Session', name: 'model_run', dur: 10 }], 1)).toEqual([]);
  });
});
