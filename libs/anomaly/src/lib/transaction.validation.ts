import { isFeatureInputError, normalizeTransaction } from '@ml/anomaly-features';
import { transactionRuleProblems, type TransactionDto, type TransactionRules } from '@ml/contracts';
import type { FieldError } from '@ml/errors';

/**
 * What the DTO's structural checks leave to configuration and to the feature code: the amount
 * ceiling, the future-timestamp margin (shared rules from @ml/contracts), and anything the
 * feature code still refuses (e.g. a time-zone offset beyond ±18 h), so a transaction that passes
 * here can always be scored. Field paths go through `field` (batch items: `transactions[i].amount`).
 */
export function transactionProblems(
  txs: readonly TransactionDto[],
  rules: TransactionRules,
  field: (name: string, index: number) => string,
  now = Date.now(),
): FieldError[] {
  const out: FieldError[] = [];
  txs.forEach((tx, i) => {
    const problems = transactionRuleProblems(tx, rules, now);
    try {
      normalizeTransaction(tx);
    } catch (e) {
      if (!isFeatureInputError(e)) throw e;
      if (!problems.some((p) => p.field === e.field)) {
        const prefix = `${e.field}: `;
        problems.push({ field: e.field, message: e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message });
      }
    }
    for (const p of problems) out.push({ field: field(p.field, i), message: p.message });
  });
  return out;
}
