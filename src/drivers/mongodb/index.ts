export { createMongoClient } from './client.js';
export type { SecureMongoClient, GuardedDb, SecureMongoEvent, SecureMongoStats } from './client.js';
export type { SecureMongoOptions, SafeMongoDriverOptions } from './options.js';
export type { GuardedCollection } from './collection.js';
export type { GuardedCursor, GuardedFindCursor } from './cursor.js';
export { COLLECTION_METHOD_ACTIONS, mongoResource } from './actions.js';
