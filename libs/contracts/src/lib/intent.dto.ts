import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, registerDecorator, type ValidationOptions } from 'class-validator';

export const MAX_QUERY_LENGTH = 1000;
export const MAX_BATCH_ITEMS = 256;

/** The rule for one customer query; undefined when it is acceptable. Text is never rewritten. */
export function queryProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  const trimmed = value.trim();
  if (trimmed.length === 0) return 'must not be empty or only whitespace';
  if (trimmed.length > MAX_QUERY_LENGTH) return `must be at most ${MAX_QUERY_LENGTH} characters (got ${trimmed.length})`;
  return undefined;
}

function IsQuery(options?: ValidationOptions) {
  return (target: object, property: string) =>
    registerDecorator({
      name: 'isQuery',
      target: target.constructor,
      propertyName: property,
      options,
      validator: {
        validate: (value: unknown) => queryProblem(value) === undefined,
        defaultMessage: (args) => queryProblem(args?.value) ?? 'is invalid',
      },
    });
}

/** Every item of an array must be a valid query; failures name each index. */
function EachQuery(options?: ValidationOptions) {
  return (target: object, property: string) =>
    registerDecorator({
      name: 'eachQuery',
      target: target.constructor,
      propertyName: property,
      options,
      validator: {
        validate: (value: unknown) => !Array.isArray(value) || value.every((v) => queryProblem(v) === undefined),
        defaultMessage: (args) =>
          (args?.value as unknown[])
            .map((v, i) => [i, queryProblem(v)] as const)
            .filter(([, p]) => p !== undefined)
            .map(([i, p]) => `[${i}] ${p}`)
            .join('\n'),
      },
    });
}

export class IntentQueryDto {
  @ApiProperty({ example: "my new card still hasn't arrived", maxLength: MAX_QUERY_LENGTH, description: 'Non-empty after trimming' })
  @IsQuery()
  query!: string;
}

export class IntentBatchDto {
  @ApiProperty({ type: [String], minItems: 1, maxItems: MAX_BATCH_ITEMS, example: ['I lost my card', 'how do I top up?'] })
  @IsArray({ message: 'must be an array of strings' })
  @ArrayMinSize(1, { message: 'must hold at least 1 query' })
  @ArrayMaxSize(MAX_BATCH_ITEMS, { message: `must hold at most ${MAX_BATCH_ITEMS} queries` })
  @EachQuery()
  queries!: string[];
}

export interface IntentCandidate {
  intent: string;
  confidence: number;
}

export interface IntentPrediction {
  intent: string;
  confidence: number;
  top: IntentCandidate[];
  model: { name: string; version: string };
  /** Set by the gateway only. */
  cached?: boolean;
}
