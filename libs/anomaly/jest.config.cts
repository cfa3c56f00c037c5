module.exports = {
  displayName: 'anomaly',
  preset: '../../jest.preset.js',
  testEnvironment: '<rootDir>/../../tools/jest/typed-array.environment.cjs',
  transform: {
    '^.+\\.[tj]s$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json', isolatedModules: true }],
  },
  moduleFileExtensions: ['ts', 'js', 'html'],
  coverageDirectory: '../../coverage/libs/anomaly',
  collectCoverage: true,
  collectCoverageFrom: ['src/**/*.ts', '!src/**/*.spec.ts', '!src/testing/**'],
  coverageReporters: ['text-summary', 'lcov'],
  coverageThreshold: { global: { lines: 80 } },
  // Real apps, real Redis and private redis-server processes: give them time.
  testTimeout: 60_000,
};
