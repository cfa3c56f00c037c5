// Terminal rendering of the apps' JSON log lines for `npm start` (tools/scripts/start.mjs):
//   12:04:01.337 INFO  gateway           | [Auth] no ML_API_KEYS: the development key is accepted
//   12:04:02.101 INFO  intent-classifier | POST /predict/intent 200 1.8 ms  request_id=9b1e…
// Lines that are not JSON pass through unchanged.

const LEVELS = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_COLORS = { TRACE: 90, DEBUG: 34, INFO: 32, WARN: 33, ERROR: 31, FATAL: '41;97' };
const OMIT = new Set(['level', 'time', 'service', 'msg', 'context', 'pid', 'hostname', 'err']);
const ACCESS = new Set(['request completed', 'request errored']);

/** Wraps `text` in an SGR colour when `on`. */
export const paint = (on, code, text) => (on ? `\x1b[${code}m${text}\x1b[0m` : text);

/** `level` as pino writes it (a number) or as the boot-failure lines do (a name), to a label. */
export function levelName(level) {
  if (typeof level === 'number') return LEVELS[level] ?? String(level);
  return String(level ?? 'INFO').toUpperCase();
}

const clock = (time) => {
  const d = typeof time === 'number' ? new Date(time) : new Date();
  return d.toTimeString().slice(0, 8) + '.' + String(d.getMilliseconds()).padStart(3, '0');
};

const show = (v) => (typeof v === 'string' ? (/\s/.test(v) || v === '' ? JSON.stringify(v) : v) : JSON.stringify(v));

/**
 * One log record as a terminal line (more lines for an error's stack). `prefix` is the coloured,
 * padded service column; `color` turns colours on.
 */
export function formatRecord(record, prefix, color) {
  const level = levelName(record.level);
  const parts = [paint(color, 90, clock(record.time)), paint(color, LEVEL_COLORS[level] ?? 0, level.padEnd(5)), prefix];
  let message;
  if (ACCESS.has(record.msg) && record.req && record.res) {
    const status = record.res.statusCode;
    const statusText = paint(color, status >= 500 ? 31 : status >= 400 ? 33 : 32, String(status));
    message = `${record.req.method} ${record.req.url} ${statusText} ${record.responseTime} ms`;
    const extra = { request_id: record.request_id, ...(record.sampleRate ? { sampleRate: record.sampleRate } : {}) };
    message += '  ' + paint(color, 90, Object.entries(extra).map(([k, v]) => `${k}=${show(v)}`).join(' '));
  } else {
    const context = record.context ? paint(color, 36, `[${record.context}] `) : '';
    const fields = Object.entries(record).filter(([k]) => !OMIT.has(k));
    message = context + (record.msg ?? '') + (fields.length ? '  ' + paint(color, 90, fields.map(([k, v]) => `${k}=${show(v)}`).join(' ')) : '');
  }
  let out = `${parts.join(' ')} ${message}`;
  const err = record.err;
  if (err && typeof err === 'object') {
    out += `\n${paint(color, 31, `  ${err.type ?? 'Error'}: ${err.message ?? ''}`)}`;
    if (typeof err.stack === 'string') out += '\n' + paint(color, 90, err.stack.split('\n').slice(1).map((l) => `  ${l.trim()}`).join('\n'));
  } else if (err !== undefined) {
    out += `  ${paint(color, 31, `err=${show(err)}`)}`;
  }
  return out;
}

/** A raw line an app wrote: JSON records are rendered, anything else is shown as it came. */
export function formatLine(line, prefix, color) {
  if (line.startsWith('{')) {
    try {
      return formatRecord(JSON.parse(line), prefix, color);
    } catch {
      // Not a record after all: show it as it came.
    }
  }
  return `${prefix} ${line}`;
}
