import { Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { HealthModule, LifecycleService } from '@ml/health';
import { ProblemFilter } from '@ml/errors';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { writeTinyModel } from '../testing/tiny-model';
import { resolveModel } from './model.repository';
import { OIP_SERVER_INFO, OipController } from './oip.controller';
import { classificationStrings, parseInferRequest } from './oip.request';
import { PROTOCOL_MODELS, type InferRequest, type InferResponse, type ProtocolModel } from './oip.types';
import { loadRunner } from './onnx.runner';
import { ServedModel } from './served-model';
import { isValidationFailedError } from '@ml/errors';

const fieldsOf = (body: unknown) => {
  try {
    parseInferRequest(body);
  } catch (e) {
    if (isValidationFailedError(e)) return e.errors?.map((x) => x.field);
    throw e;
  }
  return [];
};

describe('parseInferRequest', () => {
  it('accepts a well-formed request and flattens nested data', () => {
    const r = parseInferRequest({ id: 'a', inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 2], data: [[1, 2], [3, 4]] }] });
    expect(r.inputs[0].data).toEqual([1, 2, 3, 4]);
  });
  it.each([
    [null, ['']],
    [{}, ['inputs']],
    [{ inputs: [] }, ['inputs']],
    [{ id: 3, inputs: [null] }, ['id', 'inputs[0]']],
    [{ inputs: [{ name: '', datatype: 'FP99', shape: [1], data: [1] }] }, ['inputs[0].name', 'inputs[0].datatype']],
    [{ inputs: [{ name: 'x', datatype: 'FP32', shape: [-1], data: [1] }] }, ['inputs[0].shape']],
    [{ inputs: [{ name: 'x', datatype: 'FP32', shape: [3], data: 'abc' }] }, ['inputs[0].data']],
    [{ inputs: [{ name: 'x', datatype: 'FP32', shape: [3], data: [1, 2] }] }, ['inputs[0].data']],
    [{ inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }], outputs: 'y' }, ['outputs']],
    [{ inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }], outputs: [{ name: 'y', parameters: { classification: 0 } }, {}] }, ['outputs[0].parameters.classification', 'outputs[1].name']],
  ])('names the bad fields of %j', (body, fields) => {
    expect(fieldsOf(body)).toEqual(fields);
  });
});

describe('classificationStrings', () => {
  it('formats the top k of each row as score:index:label, highest first', () => {
    const scores = Float32Array.from([0.1, 0.7, 0.2, 0.5, 0.25, 0.25]);
    expect(classificationStrings(scores, 2, 3, 2, ['a', 'b', 'c'])).toEqual(['0.700000:1:b', '0.200000:2:c', '0.500000:0:a', '0.250000:1:b']);
    // A missing label falls back to the index.
    expect(classificationStrings(scores, 1, 3, 9, ['a', 'b'])).toEqual(['0.700000:1:b', '0.200000:2:2', '0.100000:0:a']);
  });
});

/** The tiny softmax model exposed over the protocol, as a model app would. */
class TinyProtocolModel implements ProtocolModel {
  readonly platform = 'onnxruntime_onnx';
  constructor(private readonly served: ServedModel<number[], number[]>) {}
  get name() {
    return this.served.name;
  }
  get version() {
    return this.served.version;
  }
  get ready() {
    return this.served.ready;
  }
  get inputs() {
    return this.served.files.manifest.inputs;
  }
  get outputs() {
    return this.served.files.manifest.outputs;
  }
  async infer(req: InferRequest, budgetMs: number): Promise<InferResponse> {
    const data = req.inputs[0].data as number[];
    const items = Array.from({ length: data.length / 3 }, (_, i) => data.slice(i * 3, i * 3 + 3));
    const out = await this.served.predict(items, budgetMs);
    return { model_name: this.name, model_version: this.version, outputs: [{ name: 'y', shape: [items.length, 3], datatype: 'FP32', data: out.flat() }] };
  }
}

describe('OipController on a real app', () => {
  let root: string;
  let app: NestFastifyApplication;
  let base: string;
  let served: ServedModel<number[], number[]>;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'oip-'));
    writeTinyModel(root, 'tiny', '1.0.0');
    const files = await resolveModel(root, 'tiny');
    served = new ServedModel(
      files,
      await loadRunner(files.modelPath, 0),
      {
        encode: (items) => ({ x: { type: 'float32', data: Float32Array.from(items.flat()), dims: [items.length, 3] } }),
        decode: (o, n) => Array.from({ length: n }, (_, i) => Array.from((o['y'].data as Float32Array).subarray(i * 3, i * 3 + 3))),
        warmup: [[0, 0, 0]],
      },
      { maxBatchSize: 8, maxQueueDelayMs: 0, maxQueueSize: 64 },
    );
    const mod: DynamicModule = {
      module: class OipTestModule {},
      imports: [HealthModule],
      controllers: [OipController],
      providers: [
        { provide: PROTOCOL_MODELS, useValue: [new TinyProtocolModel(served)] },
        { provide: OIP_SERVER_INFO, useValue: { name: 'tiny-server', version: '9.9.9', requestTimeoutMs: 1000 } },
      ],
    };
    Module({})(mod.module);
    app = await NestFactory.create<NestFastifyApplication>(mod, new FastifyAdapter(), { logger: false });
    app.useGlobalFilters(new ProblemFilter());
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = await app.getUrl();
  });
  afterAll(async () => {
    await app.close();
    await served.close();
    rmSync(root, { recursive: true, force: true });
  });

  const call = async (path: string, body?: unknown) => {
    const r = await request(base + path, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    return { status: r.statusCode, body: (await r.body.json()) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  it('reports not ready (400) until the model is warm and the process booted', async () => {
    expect(await call('/v2/health/live')).toEqual({ status: 200, body: { live: true } });
    expect(await call('/v2/health/ready')).toEqual({ status: 400, body: { ready: false } });
    expect(await call('/v2/models/tiny/ready')).toEqual({ status: 400, body: { name: 'tiny', ready: false } });
    await served.warmUp();
    app.get(LifecycleService).markBooted();
    expect(await call('/v2/health/ready')).toEqual({ status: 200, body: { ready: true } });
    expect(await call('/v2/models/tiny/versions/1.0.0/ready')).toEqual({ status: 200, body: { name: 'tiny', ready: true } });
  });

  it('describes the server and the model', async () => {
    expect((await call('/v2')).body).toEqual({ name: 'tiny-server', version: '9.9.9', extensions: ['classification', 'model_repository_health'] });
    const meta = await call('/v2/models/tiny');
    expect(meta.body).toEqual({
      name: 'tiny',
      versions: ['1.0.0'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 3] }],
    });
    expect((await call('/v2/models/tiny/versions/1.0.0')).body.name).toBe('tiny');
  });

  it('infers, by name and by version', async () => {
    const req = { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [0, 0, 0] }] };
    const res = await call('/v2/models/tiny/infer', req);
    expect(res.status).toBe(200);
    expect(res.body.outputs[0].data.map((v: number) => v.toFixed(4))).toEqual(['0.3333', '0.3333', '0.3333']);
    expect((await call('/v2/models/tiny/versions/1.0.0/infer', req)).status).toBe(200);
  });

  it('answers unknown models and versions with 404 and protocol errors', async () => {
    expect(await call('/v2/models/nope')).toEqual({ status: 404, body: { error: 'No model named "nope" is served here.' } });
    expect(await call('/v2/models/tiny/versions/2.0.0/infer', { inputs: [] })).toEqual({
      status: 404,
      body: { error: 'Model "tiny" has no version "2.0.0" being served.' },
    });
    const bad = await call('/v2/models/tiny/infer', { inputs: [] });
    expect(bad.status).toBe(422);
    expect(bad.body.error).toContain('inputs: must be a non-empty array');
  });
});
