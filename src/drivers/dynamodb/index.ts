export { createDynamoDbClient } from './client.js';
export type { SecureDynamoDbOptions, SafeDynamoDbClientConfig, EndpointTrust } from './options.js';
export { describeDynamoDbCommand, dynamoDbResource, DYNAMODB_ALL_TABLES } from './commands.js';
export type { DynamoDbCommandDescription } from './commands.js';
export { parsePartiqlStatement } from './partiql.js';
export type { PartiqlTarget } from './partiql.js';
export { classifyDynamoDbError } from './classify.js';
export { GUARD_MIDDLEWARE_NAME } from './middleware-name.js';
