module.exports = {
  displayName: 'monitoring',
  preset: '../jest.preset.js',
  testEnvironment: 'node',
  transform: {
    '^.+\\.[tj]s$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }],
  },
  moduleFileExtensions: ['ts', 'js'],
  // promtool replays a week of samples for the alert-rate drift rules.
  testTimeout: 60_000,
};
