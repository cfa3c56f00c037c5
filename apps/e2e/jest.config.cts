module.exports = {
  displayName: 'e2e',
  preset: '../../jest.preset.js',
  testEnvironment: '<rootDir>/../../tools/jest/typed-array.environment.cjs',
  transform: {
    '^.+\\.[tj]s$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json', isolatedModules: true }],
  },
  moduleFileExtensions: ['ts', 'js'],
  testTimeout: 60_000,
};
