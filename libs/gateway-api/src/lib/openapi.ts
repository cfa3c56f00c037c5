import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';

/** The OpenAPI document of every route the app serves, with both ways to send the API key. */
export function buildOpenApiDocument(app: NestFastifyApplication) {
  const config = new DocumentBuilder()
    .setTitle('ml-services gateway')
    .setDescription(
      'One front door to the banking ML models. Every error is application/problem+json (RFC 9457); ' +
        '/v2 routes follow the Open Inference Protocol and answer errors as {"error": "..."}.',
    )
    .setVersion('1.0.0')
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key' }, 'api-key')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'The API key as a bearer token' })
    .build();
  return SwaggerModule.createDocument(app, config);
}

/** OpenAPI UI at /docs and the document at /docs-json. */
export function setupOpenApi(app: NestFastifyApplication) {
  SwaggerModule.setup('docs', app, buildOpenApiDocument(app), { jsonDocumentUrl: 'docs-json' });
}
