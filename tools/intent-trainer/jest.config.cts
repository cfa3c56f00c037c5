module.exports = {
  displayName: 'intent-trainer',
  preset: '../../jest.preset.js',
  // onnxruntime-node checks typed arrays against the host's constructors.
  testEnvironment: '<rootDir>/../jest/typed-array.environment.cjs',
  transform: {
    '^.+\\.[tj]s$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }],
  },
  moduleFileExtensions: ['ts', 'js'],
  coverageDirectory: '../../coverage/tools/intent-trainer',
  // V8's own coverage: Babel's counters would slow the numeric loops of the retraining spec several-fold.
  collectCoverage: true,
  coverageProvider: 'v8',
  coverageReporters: ['text-summary', 'lcov'],
  coverageThreshold: { global: { lines: 80 } },
  // The determinism spec retrains the model once.
  testTimeout: 30_000,
};
