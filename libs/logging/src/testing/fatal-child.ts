/**
 * A process that logs like a service and then dies, for log.fatal.spec.ts:
 *   node -r ts-node/register/transpile-only fatal-child.ts <throw|reject|exit> <lines>
 * It writes <lines> info lines (less than the buffer holds, so they are still buffered) and, in
 * the same tick, throws, rejects a promise or calls process.exit(3).
 */
import { installFatalHandlers } from '../lib/log.fatal';
import { createPino } from '../lib/log.root';

const [how, count] = process.argv.slice(2);
const log = createPino({ level: 'info', service: 'fatal-child' });
installFatalHandlers(log);
for (let i = 0; i < Number(count); i++) log.info({ i }, `line ${i}`);
if (how === 'throw') {
  setImmediate(() => {
    throw new Error('kaput');
  });
} else if (how === 'reject') {
  void Promise.reject(new Error('kaput'));
} else {
  process.exit(3);
}
