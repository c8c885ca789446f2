/**
 * Profiling aid for a missed throughput target: drives ONE side (raw or
 * guarded) of one driver at 8 concurrent calls for PROFILE_MS, so that
 * `node --cpu-prof --import tsx bench/lib/profile-guarded.ts http guarded`
 * yields a profile of just that path. Prints ops/s.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { Agent, request } from 'undici';
import { runRound } from './load.js';
import { AUD_DOCS, DOC_PATH, startStack } from './stack.js';

const driver = process.argv[2] ?? 'http';
const side = process.argv[3] ?? 'guarded';
const ms = Number(process.env.PROFILE_MS ?? 10_000);
const stack = await startStack();
const gen = stack.secure.certificates.current();
const agent = new Agent({ connect: { cert: gen.certificatePem, key: gen.privateKeyPem, ca: stack.pki.caCertPem } });
const token = (await stack.secure.tokens.getToken(AUD_DOCS)).value;
const ops: Record<string, () => Promise<unknown>> = {
  'http:raw': async () => (await request(`${stack.api.origin}${DOC_PATH}`, { dispatcher: agent, headers: { authorization: `Bearer ${token}` } })).body.dump(),
  'http:guarded': async () => (await stack.http.request({ method: 'GET', path: DOC_PATH, route: '/v1/docs/:id' })).body.dump(),
  'mongodb:guarded': () => stack.mongo.collection('orders', 'items').findOne({ _id: 1 as never }),
  'dynamodb:guarded': () => stack.ddb.send(new GetItemCommand({ TableName: 'orders', Key: { pk: { S: 'o-1' } } })),
};
const op = ops[`${driver}:${side}`];
if (op === undefined) throw new Error(`unknown ${driver}:${side}`);
await runRound(op, 8, 1000);
const r = await runRound(op, 8, ms);
console.log(`${driver} ${side}: ${r.opsPerSec.toFixed(0)} ops/s over ${r.seconds.toFixed(1)} s, errors ${r.errors}`);
await agent.close();
await stack.close();
