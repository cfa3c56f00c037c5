import { SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { RouteMetadataCache } from './rate-limit.guard';

@SetMetadata('cost', 2)
@SetMetadata('skip', false)
class Limited {
  @SetMetadata('cost', 5)
  batch() {
    return 'batch';
  }
  single() {
    return 'single';
  }
}

class Other {
  single() {
    return 'other';
  }
}

describe('RouteMetadataCache', () => {
  const targets = (h: () => unknown, c: object) => [h, c] as Parameters<Reflector['getAllAndOverride']>[1];

  it('answers what Reflector answers: the handler overrides the class, absent keys stay undefined', () => {
    const plain = new Reflector();
    const cached = new RouteMetadataCache();
    const cases: Array<[string, () => unknown, object]> = [
      ['cost', Limited.prototype.batch, Limited],
      ['cost', Limited.prototype.single, Limited],
      ['skip', Limited.prototype.batch, Limited],
      ['missing', Limited.prototype.single, Limited],
      ['cost', Other.prototype.single, Other],
    ];
    for (const [key, h, c] of cases) {
      expect(cached.getAllAndOverride(key, targets(h, c))).toEqual(plain.getAllAndOverride(key, targets(h, c)));
      // Asked again: same answer, from the cache.
      expect(cached.getAllAndOverride(key, targets(h, c))).toEqual(plain.getAllAndOverride(key, targets(h, c)));
    }
    expect(cached.getAllAndOverride('cost', targets(Limited.prototype.batch, Limited))).toBe(5);
    expect(cached.getAllAndOverride('cost', targets(Limited.prototype.single, Limited))).toBe(2);
  });

  it('reads the metadata of a (key, handler, class) once', () => {
    const cached = new RouteMetadataCache();
    const read = jest.spyOn(Reflect, 'getMetadata');
    try {
      for (let i = 0; i < 5; i++) cached.getAllAndOverride('cost', targets(Limited.prototype.batch, Limited));
      const first = read.mock.calls.length;
      expect(first).toBeGreaterThan(0);
      for (let i = 0; i < 5; i++) cached.getAllAndOverride('cost', targets(Limited.prototype.batch, Limited));
      expect(read.mock.calls.length).toBe(first);
      // A different key or class is read (once) on its own.
      cached.getAllAndOverride('skip', targets(Limited.prototype.batch, Limited));
      expect(read.mock.calls.length).toBeGreaterThan(first);
    } finally {
      read.mockRestore();
    }
  });

  it('falls back to Reflector for other target lists', () => {
    const cached = new RouteMetadataCache();
    expect(cached.getAllAndOverride('cost', [Limited] as Parameters<Reflector['getAllAndOverride']>[1])).toBe(2);
  });
});
