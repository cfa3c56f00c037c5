import { promises as dns } from 'node:dns';
import type { Resolver } from './upstream-pool';

/**
 * Every address the system resolver gives a name (`/etc/hosts`, then DNS: what a connection would
 * use), as a Kubernetes headless Service answers with one address per ready pod.
 */
export const systemResolver: Resolver = async (hostname) => (await dns.lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);
