import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** Response shapes, for the OpenAPI document only. */
export class IntentCandidateDoc {
  @ApiProperty({ example: 'card_arrival' }) intent!: string;
  @ApiProperty({ example: 0.93 }) confidence!: number;
}
export class ModelRefDoc {
  @ApiProperty({ example: 'intent-classifier' }) name!: string;
  @ApiProperty({ example: '1.0.0' }) version!: string;
}
export class IntentPredictionDoc {
  @ApiProperty({ example: 'card_arrival', description: '"unknown" below the model threshold' }) intent!: string;
  @ApiProperty({ example: 0.93 }) confidence!: number;
  @ApiProperty({ type: [IntentCandidateDoc] }) top!: IntentCandidateDoc[];
  @ApiProperty({ type: ModelRefDoc }) model!: ModelRefDoc;
  @ApiProperty({ description: 'Answered from the gateway cache' }) cached!: boolean;
}
export class IntentBatchResponseDoc {
  @ApiProperty({ type: [IntentPredictionDoc] }) predictions!: IntentPredictionDoc[];
}
export class AnomalyPredictionDoc {
  @ApiProperty({ example: 'tx-000123' }) transaction_id!: string;
  @ApiProperty({ example: 0.91, minimum: 0, maximum: 1 }) score!: number;
  @ApiProperty() is_anomaly!: boolean;
  @ApiProperty({ example: 0.5 }) threshold!: number;
  @ApiProperty({ type: [String], example: ["amount is 14x this customer's usual grocery spend"] }) reasons!: string[];
  @ApiProperty({ type: ModelRefDoc }) model!: ModelRefDoc;
  @ApiProperty({ description: 'Scored without customer history (store unavailable)' }) degraded!: boolean;
}
export class AnomalyBatchResponseDoc {
  @ApiProperty({ type: [AnomalyPredictionDoc] }) predictions!: AnomalyPredictionDoc[];
}
export class FieldErrorDoc {
  @ApiProperty({ example: 'queries[3]' }) field!: string;
  @ApiProperty({ example: 'must not be empty or only whitespace' }) message!: string;
}
export class ProblemDoc {
  @ApiProperty({ example: 'urn:ml-services:problem:validation-failed' }) type!: string;
  @ApiProperty({ example: 'Unprocessable Content' }) title!: string;
  @ApiProperty({ example: 422 }) status!: number;
  @ApiProperty() detail!: string;
  @ApiProperty({ example: '/predict/intent' }) instance!: string;
  @ApiProperty() request_id!: string;
  @ApiPropertyOptional({ type: [FieldErrorDoc] }) errors?: FieldErrorDoc[];
}
