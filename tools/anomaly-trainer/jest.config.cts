module.exports = {
  displayName: 'anomaly-trainer',
  preset: '../../jest.preset.js',
  // onnxruntime-node checks typed arrays with instanceof: share the host's constructors.
  testEnvironment: '<rootDir>/../jest/typed-array.environment.cjs',
  transform: {
    '^.+\\.[tj]s$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }],
  },
  moduleFileExtensions: ['ts', 'js', 'html'],
  coverageDirectory: '../../coverage/tools/anomaly-trainer',
  collectCoverage: true,
  // Only this tool's code: instrumenting the feature lib (covered by its own tests) slows the replays.
  collectCoverageFrom: ['src/**/*.ts', '!src/main.ts', '!src/**/*.spec.ts'],
  coverageReporters: ['text-summary', 'lcov'],
  coverageThreshold: { global: { lines: 80 } },
};
