module.exports = {
  displayName: 'bench',
  preset: '../../jest.preset.js',
  testEnvironment: 'node',
  transform: {
    '^.+\\.[tj]s$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }],
  },
  moduleFileExtensions: ['ts', 'js'],
  // The load generator and the profile reader have tests: the benchmarks themselves are measured runs, not CI's.
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
  // Each wrk run lasts a second or two, after its bodies are written.
  testTimeout: 30_000,
};
