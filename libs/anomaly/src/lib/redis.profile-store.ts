import { Logger } from '@nestjs/common';
import { isUserProfile, type UserProfile } from '@ml/anomaly-features';
import { isRedisBudgetExceededError, pingRedis, unboundedClientProblem, type RedisBudget, type RedisClient } from '@ml/redis';
import type { CircuitBreaker } from '@ml/resilience';
import { createHash } from 'node:crypto';
import type { ProfileEncoding } from './anomaly.config';
import { ProfileStoreArgumentError, ProfileStoreUnavailableError } from './anomaly.errors';
import { decodeProfile, encodeProfile } from './profile.codec';
import { NO_PROFILE, type CommitResult, type ProfileStore, type ProfileStoreStatus, type ProfileUpdate, type StoredProfile } from './profile.store';

/**
 * Compare-and-set of one profile hash {rev, p}: writes only when the stored revision is still the
 * one the caller read (a missing or unreadable revision counts as 0), bumps it and renews the TTL.
 * Returns the new revision, or -1 on a conflict.
 */
export const CAS_SCRIPT = `
local cur = tonumber(redis.call('HGET', KEYS[1], 'rev')) or 0
if cur ~= tonumber(ARGV[1]) then return -1 end
local nextRev = cur + 1
redis.call('HSET', KEYS[1], 'rev', nextRev, 'p', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return nextRev
`;
const CAS_SHA = createHash('sha1').update(CAS_SCRIPT).digest('hex');

export interface RedisProfileStoreOptions {
  /**
   * The ioredis client, owned by the caller. It must have `enableOfflineQueue: false` and a
   * positive `commandTimeout` (as `createRedisClient` makes them): that is what bounds every call.
   */
  client: RedisClient;
  /** Prepended to the customer id, e.g. `ml:profile:v2:` (the profile version is part of it). */
  keyPrefix: string;
  /** Which stored values are profiles this store serves (default: profile version 1). */
  isProfile?: (value: unknown) => value is UserProfile;
  /** A profile not written for this long expires in Redis. */
  ttlMs: number;
  /** Every Redis call runs through it. */
  breaker: CircuitBreaker;
  /** Compare-and-set attempts after the first before a customer's fold is given up (default 8). */
  casRetries?: number;
  /** How profiles are written (default `binary`); both forms are always read. */
  encoding?: ProfileEncoding;
  /** While degraded, PING this often so the store recovers without traffic; 0 = never (default 1000). */
  probeIntervalMs?: number;
  /** Pause before conflict retry `attempt` (0-based); default a few jittered milliseconds. */
  backoff?: (attempt: number) => Promise<void>;
}

const defaultBackoff = (attempt: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, Math.random() * Math.min(20, 2 ** attempt)));

function toRev(raw: Buffer | null | undefined): number {
  const n = raw === null || raw === undefined ? 0 : Number(raw.toString('latin1'));
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

/** The first byte of a profile stored as JSON (by builds before the binary form). */
const JSON_START = 0x7b;

/**
 * Customer history in Redis, shared by every replica: one hash per customer holding its revision
 * and profile (in the binary form of `profile.codec.ts`; a JSON profile an earlier build wrote is
 * still read, and replaced by the next write), expiring `ttlMs` after the last write. Reads of a
 * whole batch are one pipelined round trip; each write-back is a Lua compare-and-set on the revision, re-read and re-applied on
 * conflict, so concurrent replicas never drop each other's transactions. Every call goes through
 * the breaker and the client's command timeout, and within the request's RedisBudget when one is
 * given (a call with nothing left is not sent). A failure marks the store degraded: requests then
 * do not wait on Redis at all (they are answered as for an outage) until the background probe
 * succeeds again.
 */
export class RedisProfileStore implements ProfileStore {
  readonly mode = 'redis' as const;
  readonly keyPrefix: string;
  private readonly logger = new Logger('RedisProfileStore');
  private readonly client: RedisClient;
  private readonly breaker: CircuitBreaker;
  private readonly ttlMs: number;
  private readonly casRetries: number;
  private readonly isProfile: (value: unknown) => value is UserProfile;
  private readonly backoff: (attempt: number) => Promise<void>;
  private readonly encode: (profile: UserProfile) => Buffer | string;
  private readonly listeners = new Set<(degraded: boolean) => void>();
  private readonly probeTimer?: ReturnType<typeof setInterval>;
  private readonly detach: () => void;
  private degraded: boolean;
  private degradedSince?: number;
  private lastError?: string;
  private probing = false;
  private corrupt = 0;

  constructor(options: RedisProfileStoreOptions) {
    const { client, keyPrefix, ttlMs, breaker } = options;
    if (typeof keyPrefix !== 'string' || keyPrefix === '') throw new ProfileStoreArgumentError('keyPrefix must be a non-empty string');
    const problem = unboundedClientProblem(client);
    if (problem) throw new ProfileStoreArgumentError(`RedisProfileStore needs ${problem}`);
    if (!(ttlMs >= 1) || !Number.isFinite(ttlMs)) throw new ProfileStoreArgumentError(`ttlMs must be at least 1, got ${String(ttlMs)}`);
    const retries = options.casRetries ?? 8;
    if (!Number.isSafeInteger(retries) || retries < 0) throw new ProfileStoreArgumentError(`casRetries must be an integer >= 0, got ${String(retries)}`);
    this.client = client;
    this.keyPrefix = keyPrefix;
    this.breaker = breaker;
    this.ttlMs = Math.ceil(ttlMs);
    this.casRetries = retries;
    this.isProfile = options.isProfile ?? ((value: unknown): value is UserProfile => isUserProfile(value));
    this.backoff = options.backoff ?? defaultBackoff;
    this.encode = options.encoding === 'json' ? (p) => JSON.stringify(p) : encodeProfile;
    this.degraded = client.status !== 'ready';
    if (this.degraded) this.degradedSince = Date.now();

    // A dropped connection is an outage before any request notices it; a restored one is checked
    // at once rather than at the next probe tick.
    const onClose = () => this.setDegraded(true, 'connection closed');
    const onReady = () => void this.probe();
    client.on('close', onClose);
    client.on('ready', onReady);
    this.detach = () => {
      client.off('close', onClose);
      client.off('ready', onReady);
    };
    const every = options.probeIntervalMs ?? 1000;
    if (every > 0) {
      this.probeTimer = setInterval(() => void this.probe(), every);
      this.probeTimer.unref();
    }
  }

  async load(userIds: readonly string[], budget?: RedisBudget): Promise<Map<string, StoredProfile>> {
    const unique = [...new Set(userIds)];
    const out = new Map<string, StoredProfile>();
    if (unique.length === 0) return out;
    // Plain commands, not an explicit pipeline: the client's auto-pipelining sends every command
    // issued in one tick (this request's customers and other requests' alike) in one write, where
    // an explicit pipeline costs a socket write per request.
    const rows = await this.guarded('read', () => Promise.all(unique.map((id) => this.client.hmgetBuffer(this.keyPrefix + id, 'rev', 'p'))), budget);
    unique.forEach((id, i) => out.set(id, this.parse(id, rows[i])));
    return out;
  }

  async commit(updates: readonly ProfileUpdate[], budget?: RedisBudget): Promise<CommitResult> {
    const result: CommitResult = { written: 0, unchanged: 0, conflicts: 0, failed: [] };
    await Promise.all(updates.map((u) => this.commitOne(u, result, budget)));
    return result;
  }

  status(): ProfileStoreStatus {
    const s: ProfileStoreStatus = {
      mode: 'redis',
      degraded: this.degraded,
      connection: this.client.status,
      breaker: this.breaker.state,
    };
    if (this.degraded) {
      if (this.lastError) s['last_error'] = this.lastError;
      if (this.degradedSince !== undefined) s['degraded_since'] = new Date(this.degradedSince).toISOString();
    }
    if (this.corrupt > 0) s['unreadable_profiles'] = this.corrupt;
    return s;
  }

  onDegradedChange(listener: (degraded: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.detach();
    this.listeners.clear();
  }

  /** One PING through the breaker while degraded; a success ends the degraded state. */
  async probe(): Promise<void> {
    if (!this.degraded || this.probing) return;
    this.probing = true;
    try {
      await this.guarded('ping', () => pingRedis(this.client), undefined, true);
    } catch {
      // Still down: the state already says so.
    } finally {
      this.probing = false;
    }
  }

  private async commitOne(u: ProfileUpdate, result: CommitResult, budget?: RedisBudget): Promise<void> {
    let base = u.base;
    for (let attempt = 0; ; attempt++) {
      const next = u.apply(base.profile);
      if (next === undefined) {
        result.unchanged++;
        return;
      }
      let rev: number;
      try {
        rev = await this.compareAndSet(u.userId, base.rev, next, budget);
      } catch {
        result.failed.push({ userId: u.userId, reason: 'unavailable' });
        return;
      }
      if (rev > 0) {
        result.written++;
        return;
      }
      result.conflicts++;
      if (attempt >= this.casRetries) {
        result.failed.push({ userId: u.userId, reason: 'conflict' });
        return;
      }
      await this.backoff(attempt);
      try {
        base = (await this.load([u.userId], budget)).get(u.userId) ?? NO_PROFILE;
      } catch {
        result.failed.push({ userId: u.userId, reason: 'unavailable' });
        return;
      }
    }
  }

  private compareAndSet(userId: string, rev: number, profile: UserProfile, budget?: RedisBudget): Promise<number> {
    const args = [this.keyPrefix + userId, String(rev), this.encode(profile), String(this.ttlMs)];
    return this.guarded('write', async () => {
      let reply: unknown;
      try {
        reply = await this.client.evalsha(CAS_SHA, 1, ...args);
      } catch (e) {
        // A restarted or flushed server has forgotten the script: send it whole once.
        if (!String((e as Error)?.message).startsWith('NOSCRIPT')) throw e;
        reply = await this.client.eval(CAS_SCRIPT, 1, ...args);
      }
      return Number(reply);
    }, budget);
  }

  private parse(userId: string, row: (Buffer | null)[] | undefined): StoredProfile {
    const rev = toRev(row?.[0]);
    const bytes = row?.[1];
    if (bytes === null || bytes === undefined) return rev === 0 ? NO_PROFILE : { rev, profile: undefined };
    let value: unknown;
    if (bytes[0] === JSON_START) {
      try {
        value = JSON.parse(bytes.toString('utf8'));
      } catch {
        value = undefined;
      }
    } else {
      value = decodeProfile(bytes);
    }
    if (this.isProfile(value)) return { rev, profile: value };
    // Another profile version or a damaged value: score as a new customer and overwrite it.
    this.corrupt++;
    this.logger.warn({ msg: 'stored profile is not a current profile; treating the customer as new', key: this.keyPrefix + userId });
    return { rev, profile: undefined };
  }

  /**
   * One Redis call through the breaker, within `budget`. Degraded, only the probe reaches Redis:
   * a request is refused at once rather than wait on a Redis that just failed. A request whose
   * budget is spent is refused without asking Redis, which says nothing about Redis.
   */
  private async guarded<T>(operation: string, fn: () => Promise<T>, budget?: RedisBudget, probe = false): Promise<T> {
    if (this.degraded && !probe) throw new ProfileStoreUnavailableError(operation, this.lastError ?? 'degraded');
    const call = () => this.breaker.execute(() => fn());
    try {
      const value = await (budget ? budget.run(call) : call());
      // A late success of a call admitted before the breaker opened proves little: requests are
      // still turned away until a probe closes the breaker.
      if (this.breaker.state === 'closed') this.setDegraded(false);
      return value;
    } catch (e) {
      if (!(isRedisBudgetExceededError(e) && e.refused)) this.setDegraded(true, e);
      throw new ProfileStoreUnavailableError(operation, e);
    }
  }

  private setDegraded(degraded: boolean, cause?: unknown) {
    if (degraded) this.lastError = cause instanceof Error ? cause.message : String(cause ?? 'unavailable');
    if (degraded === this.degraded) return;
    this.degraded = degraded;
    this.degradedSince = degraded ? Date.now() : undefined;
    if (degraded) this.logger.warn({ msg: 'profile store unavailable: scoring on population features only', error: this.lastError });
    else this.logger.log({ msg: 'profile store available again' });
    for (const l of this.listeners) {
      try {
        l(degraded);
      } catch {
        // a listener (metrics) must not break the store
      }
    }
  }
}
