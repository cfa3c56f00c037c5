// Jest runs each test file in its own vm context with its own typed-array classes, so a
// Float32Array made in a test is not `instanceof` the host's Float32Array that onnxruntime-node
// checks. Sharing the host's constructors makes tensors built in tests acceptable to the binding.
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer', 'SharedArrayBuffer', 'DataView',
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
  'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
];

class TypedArrayEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = TypedArrayEnvironment;
