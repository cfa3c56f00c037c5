import { BadRequestException, HttpException, InternalServerErrorException, NotFoundException } from '@nestjs/common';
import { NotFoundError, ServiceError, ValidationFailedError, isValidationFailedError } from './problem.errors';
import { isInferenceProtocolPath } from './problem.render';
import { toProblem } from './problem.mapper';

describe('toProblem', () => {
  it('maps a validation failure to 422 with field errors', () => {
    const err = new ValidationFailedError([{ field: 'query', message: 'must not be empty' }]);
    const { problem, headers, unexpected } = toProblem(err, '/predict/intent', 'rid-1');
    expect(problem).toEqual({
      type: 'urn:ml-services:problem:validation-failed',
      title: 'Unprocessable Content',
      status: 422,
      detail: 'The request body is not valid.',
      instance: '/predict/intent',
      request_id: 'rid-1',
      errors: [{ field: 'query', message: 'must not be empty' }],
    });
    expect(headers).toEqual({});
    expect(unexpected).toBe(false);
    expect(isValidationFailedError(err)).toBe(true);
    expect(isValidationFailedError(new Error('x'))).toBe(false);
  });

  it.each([
    ['QUEUE_FULL', 503],
    ['BREAKER_OPEN', 503],
    ['UPSTREAM_FAILED', 502],
    ['DEADLINE_EXCEEDED', 504],
    ['RATE_LIMITED', 429],
    ['UNAUTHORIZED', 401],
    ['FORBIDDEN', 403],
    ['NOT_FOUND', 404],
  ])('maps code %s to %i, from any class that carries the code', (code, status) => {
    const plain = Object.assign(new Error('internal words'), { code, publicDetail: 'safe words' });
    const { problem } = toProblem(plain, '/x', 'r');
    expect(problem.status).toBe(status);
    expect(problem.detail).toBe('safe words');
  });

  it('turns retryAfterSeconds into a Retry-After header in whole seconds, at least 1', () => {
    // Shed load is marked as such, so a gateway in front passes it on instead of counting it as a fault.
    expect(toProblem(new ServiceError('QUEUE_FULL', 'full', { retryAfterSeconds: 0.2 }), '/', 'r').headers).toEqual({
      'retry-after': '1',
      'x-ml-shed': '1',
    });
    expect(toProblem(new ServiceError('BREAKER_OPEN', 'open', { retryAfterSeconds: 12.1 }), '/', 'r').headers).toEqual({
      'retry-after': '13',
    });
  });

  it('keeps Nest HTTP exceptions at their status with their message', () => {
    const { problem } = toProblem(new NotFoundException('Cannot GET /x'), '/x', 'r');
    expect(problem).toMatchObject({ status: 404, title: 'Not Found', detail: 'Cannot GET /x', type: 'urn:ml-services:problem:not-found' });
    const many = toProblem(new BadRequestException(['a is bad', 'b is bad']), '/x', 'r').problem;
    expect(many.detail).toBe('a is bad; b is bad');
    expect(toProblem(new HttpException('teapot', 418), '/', 'r').problem.title).toBe('Client Error');
  });

  it('never shows the message of a Nest 5xx', () => {
    const { problem, unexpected } = toProblem(new InternalServerErrorException('db password is hunter2'), '/', 'r');
    expect(problem.status).toBe(500);
    expect(problem.detail).not.toContain('hunter2');
    expect(unexpected).toBe(true);
  });

  it('maps Fastify framework errors by code and by statusCode', () => {
    expect(toProblem({ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', message: 'Unsupported Media Type: text/plain' }, '/', 'r').problem.status).toBe(415);
    expect(toProblem({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', message: 'too big' }, '/', 'r').problem.status).toBe(413);
    expect(toProblem({ code: 'FST_ERR_OTHER', statusCode: 400, message: 'bad header' }, '/', 'r').problem).toMatchObject({
      status: 400,
      detail: 'bad header',
    });
  });

  it('answers anything unknown with an opaque 500 and flags it for the error log', () => {
    const { problem, unexpected } = toProblem(new TypeError('cannot read x of undefined at /srv/app.js:12'), '/p', 'rid');
    expect(problem.status).toBe(500);
    expect(problem.type).toBe('urn:ml-services:problem:internal-error');
    expect(problem.detail).not.toContain('app.js');
    expect(unexpected).toBe(true);
    expect(toProblem('a string', '/p', 'rid').problem.status).toBe(500);
    expect(toProblem(null, '/p', 'rid').problem.status).toBe(500);
  });

  it('has a 404 error class for unknown models', () => {
    expect(toProblem(new NotFoundError('no model "x"'), '/v2/models/x', 'r').problem).toMatchObject({ status: 404, detail: 'no model "x"' });
  });
});

describe('isInferenceProtocolPath', () => {
  it.each([
    ['/v2', true],
    ['/v2/models/x/infer', true],
    ['/v2?x=1', true],
    ['/v20', false],
    ['/predict/v2', false],
  ])('%s -> %p', (url, expected) => {
    expect(isInferenceProtocolPath(url)).toBe(expected);
  });
});
