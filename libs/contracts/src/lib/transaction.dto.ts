import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsISO8601,
  IsNotEmpty,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateBy,
  ValidateNested,
  type ValidationOptions,
} from 'class-validator';

export const MERCHANT_CATEGORIES = [
  'grocery',
  'restaurants',
  'gas_transport',
  'shopping',
  'entertainment',
  'health_fitness',
  'home',
  'kids_pets',
  'personal_care',
  'travel',
  'misc',
] as const;
export type MerchantCategory = (typeof MERCHANT_CATEGORIES)[number];
export const CHANNELS = ['online', 'in_store', 'atm'] as const;
export type Channel = (typeof CHANNELS)[number];

/**
 * Decimal places of a finite number as JavaScript writes it, exponent notation included
 * (`1e-7` has 7, `1.5e21` none). class-validator's own `maxDecimalPlaces` splits the text on '.'
 * and throws on `1e-7` (a 500 for a well-formed body).
 */
export function decimalPlaces(n: number): number {
  const [mantissa, exponent] = String(n).split('e');
  const fraction = mantissa.split('.')[1]?.length ?? 0;
  return Math.max(0, fraction - Number(exponent ?? 0));
}

/** A finite number with at most `max` decimal places (cents and hundredths of cents for amounts). */
function MaxDecimals(max: number, options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'maxDecimals',
      constraints: [max],
      validator: { validate: (value: unknown) => typeof value === 'number' && Number.isFinite(value) && decimalPlaces(value) <= max },
    },
    options,
  );
}

/** Upper bound of `amount` unless configured otherwise (MAX_TRANSACTION_AMOUNT). */
export const DEFAULT_MAX_AMOUNT = 1_000_000;

export class GeoPointDto {
  @ApiProperty({ minimum: -90, maximum: 90, example: 51.5072 })
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: 'must be a number' })
  @Min(-90, { message: 'must be between -90 and 90' })
  @Max(90, { message: 'must be between -90 and 90' })
  lat!: number;

  @ApiProperty({ minimum: -180, maximum: 180, example: -0.1276 })
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: 'must be a number' })
  @Min(-180, { message: 'must be between -180 and 180' })
  @Max(180, { message: 'must be between -180 and 180' })
  lon!: number;
}

/**
 * A card transaction. Structural rules live here; the rules that need configuration (the largest
 * amount, how far in the future a timestamp may lie) are checked by `transactionRuleProblems`.
 */
export class TransactionDto {
  @ApiProperty({ example: 'tx-000123', maxLength: 128 })
  @IsString({ message: 'must be a string' })
  @IsNotEmpty({ message: 'must not be empty' })
  @MaxLength(128, { message: 'must be at most 128 characters' })
  transaction_id!: string;

  @ApiProperty({ example: 'user-42', maxLength: 128 })
  @IsString({ message: 'must be a string' })
  @IsNotEmpty({ message: 'must not be empty' })
  @MaxLength(128, { message: 'must be at most 128 characters' })
  user_id!: string;

  @ApiProperty({ exclusiveMinimum: true, minimum: 0, maximum: DEFAULT_MAX_AMOUNT, example: 42.5 })
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: 'must be a finite number with at most 4 decimals' })
  @MaxDecimals(4, { message: 'must be a finite number with at most 4 decimals' })
  @Min(0.0001, { message: 'must be greater than 0' })
  amount!: number;

  @ApiProperty({ example: 'GBP', description: 'ISO 4217 alphabetic code' })
  @IsString({ message: 'must be a string' })
  @Matches(/^[A-Z]{3}$/, { message: 'must be an ISO 4217 code such as GBP or EUR' })
  currency!: string;

  @ApiProperty({ example: '2026-11-27T09:30:00Z', description: 'ISO 8601 with a time zone' })
  @IsString({ message: 'must be a string' })
  @IsISO8601({ strict: true, strictSeparator: true }, { message: 'must be an ISO 8601 date-time' })
  @Matches(/T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/, { message: 'must be an ISO 8601 date-time with a time zone' })
  timestamp!: string;

  @ApiProperty({ enum: MERCHANT_CATEGORIES })
  @IsIn(MERCHANT_CATEGORIES, { message: `must be one of: ${MERCHANT_CATEGORIES.join(', ')}` })
  merchant_category!: MerchantCategory;

  @ApiProperty({ enum: CHANNELS })
  @IsIn(CHANNELS, { message: `must be one of: ${CHANNELS.join(', ')}` })
  channel!: Channel;

  @ApiPropertyOptional({ type: GeoPointDto })
  @IsOptional()
  @IsObject({ message: 'must be an object with lat and lon' })
  @ValidateNested()
  @Type(() => GeoPointDto)
  merchant_location?: GeoPointDto;

  @ApiPropertyOptional({ type: GeoPointDto })
  @IsOptional()
  @IsObject({ message: 'must be an object with lat and lon' })
  @ValidateNested()
  @Type(() => GeoPointDto)
  home_location?: GeoPointDto;
}

export class TransactionBatchDto {
  @ApiProperty({ type: [TransactionDto], minItems: 1, maxItems: 256 })
  @IsArray({ message: 'must be an array of transactions' })
  @ArrayMinSize(1, { message: 'must hold at least 1 transaction' })
  @ArrayMaxSize(256, { message: 'must hold at most 256 transactions' })
  // @ValidateNested alone lets an item that is itself an array of transactions through.
  @IsObject({
    each: true,
    message: (args) =>
      (Array.isArray(args.value) ? args.value : [])
        .map((v, i) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? '' : `[${i}] must be a transaction object`))
        .filter(Boolean)
        .join('\n'),
  })
  @ValidateNested({ each: true })
  @Type(() => TransactionDto)
  transactions!: TransactionDto[];
}

export interface TransactionRules {
  maxAmount: number;
  /** How far past `now` a timestamp may lie. */
  maxFutureMs: number;
}

/** Rules that depend on configuration and the clock; field paths relative to the transaction. */
export function transactionRuleProblems(tx: TransactionDto, rules: TransactionRules, now = Date.now()): { field: string; message: string }[] {
  const out: { field: string; message: string }[] = [];
  if (tx.amount > rules.maxAmount) out.push({ field: 'amount', message: `must be at most ${rules.maxAmount}` });
  const t = Date.parse(tx.timestamp);
  if (!Number.isFinite(t)) out.push({ field: 'timestamp', message: 'must be an ISO 8601 date-time' });
  else if (t > now + rules.maxFutureMs) out.push({ field: 'timestamp', message: `must not lie more than ${Math.round(rules.maxFutureMs / 3600000)} h in the future` });
  return out;
}

export interface AnomalyPrediction {
  transaction_id: string;
  score: number;
  is_anomaly: boolean;
  threshold: number;
  reasons: string[];
  model: { name: string; version: string };
  degraded: boolean;
}
