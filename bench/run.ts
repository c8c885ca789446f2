/**
 * Side-by-side benchmark, raw drivers vs the guarded clients, on loopback TLS:
 * `npx tsx bench/run.ts` (or `npm run bench`). Writes docs/benchmarks.json and
 * docs/benchmarks.md. Bounded: about 2–3 minutes with the defaults.
 *
 * Env: BENCH_ROUND_MS (700), BENCH_ROUNDS (10 per variant), BENCH_WARMUP_MS (1000),
 * BENCH_CONCURRENCY ("1,8"), BENCH_DRIVERS ("http,mongodb,dynamodb"),
 * BENCH_GUARDED_CALLS (1000000), BENCH_OUT_DIR (docs).
 */
import { Agent as HttpsAgent } from 'node:https';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { MongoClient } from 'mongodb';
import { Agent, request } from 'undici';
import { AUD_DOCS, AUD_MONGO, DOC_PATH, REGION, SERVICE_ID, startStack, type Stack } from './lib/stack.js';
import { median, mergeSorted, quantile, runRound, type RoundResult } from './lib/load.js';
import { cachedGetTokenNs, coldStampede, getTokenBreakdown, heapForAudiences, heapOverGuardedCalls, policyDecisionNs } from './lib/micro.js';

const env = (name: string, fallback: number): number => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};
const ROUND_MS = env('BENCH_ROUND_MS', 700);
const ROUNDS = env('BENCH_ROUNDS', 10);
const WARMUP_MS = env('BENCH_WARMUP_MS', 1000);
const GUARDED_CALLS = env('BENCH_GUARDED_CALLS', 1_000_000);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,8').split(',').map(Number);
const DRIVERS = (process.env.BENCH_DRIVERS ?? 'http,mongodb,dynamodb').split(',');
const OUT_DIR = process.env.BENCH_OUT_DIR ?? 'docs';

interface Pair {
  readonly driver: string;
  readonly raw: () => Promise<unknown>;
  readonly guarded: () => Promise<unknown>;
  readonly target: number;
}

interface PairResult {
  driver: string;
  concurrency: number;
  raw: { opsPerSec: number; p50Ms: number; p99Ms: number; errors: number; ops: number };
  guarded: { opsPerSec: number; p50Ms: number; p99Ms: number; errors: number; ops: number };
  /** Median over rounds of guarded/raw throughput of adjacent rounds. */
  ratio: number;
  ratioPerRound: number[];
  target: number;
  met: boolean;
}

function summarize(rounds: readonly RoundResult[]): PairResult['raw'] {
  const ops = rounds.reduce((s, r) => s + r.ops, 0);
  const secs = rounds.reduce((s, r) => s + r.seconds, 0);
  const lat = mergeSorted(rounds);
  return { opsPerSec: ops / secs, p50Ms: quantile(lat, 0.5), p99Ms: quantile(lat, 0.99), errors: rounds.reduce((s, r) => s + r.errors, 0), ops };
}

/** Warm-up both, then ABAB / BABA rounds so drift and neighbours' load hit both sides alike. */
async function compare(pair: Pair, concurrency: number): Promise<PairResult> {
  await runRound(pair.raw, concurrency, WARMUP_MS);
  await runRound(pair.guarded, concurrency, WARMUP_MS);
  const raw: RoundResult[] = [];
  const guarded: RoundResult[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let a: RoundResult;
    let b: RoundResult;
    if (r % 2 === 0) {
      a = await runRound(pair.raw, concurrency, ROUND_MS);
      b = await runRound(pair.guarded, concurrency, ROUND_MS);
    } else {
      b = await runRound(pair.guarded, concurrency, ROUND_MS);
      a = await runRound(pair.raw, concurrency, ROUND_MS);
    }
    raw.push(a);
    guarded.push(b);
    ratios.push(b.opsPerSec / a.opsPerSec);
  }
  const ratio = median(ratios);
  const target = concurrency === 8 ? pair.target : Number.NaN;
  const res: PairResult = {
    driver: pair.driver,
    concurrency,
    raw: summarize(raw),
    guarded: summarize(guarded),
    ratio,
    ratioPerRound: ratios.map((x) => Math.round(x * 1000) / 1000),
    target,
    met: Number.isNaN(target) ? true : ratio >= target,
  };
  console.log(
    `${pair.driver.padEnd(8)} c=${concurrency}  raw ${res.raw.opsPerSec.toFixed(0).padStart(6)}/s p50 ${res.raw.p50Ms.toFixed(2)} p99 ${res.raw.p99Ms.toFixed(2)} | guarded ${res.guarded.opsPerSec.toFixed(0).padStart(6)}/s p50 ${res.guarded.p50Ms.toFixed(2)} p99 ${res.guarded.p99Ms.toFixed(2)} | ratio ${(ratio * 100).toFixed(1)}% [${res.ratioPerRound.join(' ')}] errors ${res.raw.errors}/${res.guarded.errors}`,
  );
  return res;
}

async function buildPairs(stack: Stack): Promise<{ pairs: Pair[]; close: () => Promise<void> }> {
  const gen = stack.secure.certificates.current();
  const tls = { cert: gen.certificatePem, key: gen.privateKeyPem, ca: stack.pki.caCertPem };
  const closers: (() => Promise<unknown>)[] = [];
  const pairs: Pair[] = [];

  if (DRIVERS.includes('http')) {
    // Same client certificate and the same (certificate-bound) token the guarded client uses.
    const token = (await stack.secure.tokens.getToken(AUD_DOCS)).value;
    const agent = new Agent({ connect: tls });
    closers.push(() => agent.close());
    const url = `${stack.api.origin}${DOC_PATH}`;
    const headers = { authorization: `Bearer ${token}` };
    pairs.push({
      driver: 'http',
      target: 0.97,
      raw: async () => {
        const r = await request(url, { dispatcher: agent, headers });
        await r.body.dump();
        if (r.statusCode !== 200) throw new Error(`raw http ${r.statusCode}`);
      },
      guarded: async () => {
        const r = await stack.http.request({ method: 'GET', path: DOC_PATH, route: '/v1/docs/:id' });
        await r.body.dump();
        if (r.statusCode !== 200) throw new Error(`guarded http ${r.statusCode}`);
      },
    });
  }

  if (DRIVERS.includes('mongodb')) {
    const token = await stack.secure.tokens.getToken(AUD_MONGO);
    const raw = new MongoClient(stack.mongoUri, {
      tls: true,
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      authMechanism: 'MONGODB-OIDC',
      authMechanismProperties: { OIDC_CALLBACK: () => Promise.resolve({ accessToken: token.value, expiresInSeconds: Math.floor((token.expiresAt - Date.now()) / 1000) }) },
    });
    await raw.connect();
    closers.push(() => raw.close());
    const rawColl = raw.db('orders').collection('items');
    const guardedColl = stack.mongo.collection('orders', 'items');
    pairs.push({
      driver: 'mongodb',
      target: 0.98,
      raw: async () => {
        if ((await rawColl.findOne({ _id: 1 as never })) === null) throw new Error('raw mongo: not found');
      },
      guarded: async () => {
        if ((await guardedColl.findOne({ _id: 1 as never })) === null) throw new Error('guarded mongo: not found');
      },
    });
  }

  if (DRIVERS.includes('dynamodb')) {
    const cmd = () => new GetItemCommand({ TableName: 'orders', Key: { pk: { S: 'o-1' } } });
    await stack.ddb.send(cmd()); // makes the guarded client assume the role; the gateway records the session
    const session = [...stack.sessionsSeen.values()].at(-1);
    if (session === undefined) throw new Error('no STS session seen at the gateway');
    const agent = new HttpsAgent({ keepAlive: true, maxSockets: 50, ...tls });
    const raw = new DynamoDBClient({
      region: REGION,
      endpoint: stack.gateway.url,
      credentials: { accessKeyId: session.accessKeyId, secretAccessKey: session.secretAccessKey, sessionToken: session.sessionToken },
      requestHandler: new NodeHttpHandler({ httpsAgent: agent }),
    });
    closers.push(async () => {
      raw.destroy();
      agent.destroy();
    });
    pairs.push({
      driver: 'dynamodb',
      target: 0.98,
      raw: async () => {
        if ((await raw.send(cmd())).Item === undefined) throw new Error('raw ddb: not found');
      },
      guarded: async () => {
        if ((await stack.ddb.send(cmd())).Item === undefined) throw new Error('guarded ddb: not found');
      },
    });
  }
  return {
    pairs,
    close: async () => {
      for (const c of closers) await c();
    },
  };
}

const fmt = (n: number, d = 1): string => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const pct = (n: number): string => `${fmt(n * 100)}%`;

async function main(): Promise<void> {
  const started = new Date();
  const loadStart = loadavg();
  const cpu = cpus();
  const machine = {
    os: `${type()} ${process.platform} ${process.arch}`,
    cpu: `${cpu.length} × ${cpu[0]?.model ?? 'unknown'}`,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadAverageStart: loadStart.map((x) => Math.round(x * 100) / 100),
    loadAverageEnd: [] as number[],
  };
  console.log(`machine: ${machine.cpu}, node ${machine.node}, load ${machine.loadAverageStart.join(' ')}`);

  const stack = await startStack();
  const throughput: PairResult[] = [];
  let micro: Record<string, unknown>;
  try {
    const { pairs, close } = await buildPairs(stack);
    try {
      for (const pair of pairs) for (const c of CONCURRENCY) throughput.push(await compare(pair, c));
    } finally {
      await close();
    }

    const getToken = cachedGetTokenNs(stack.secure.tokens, AUD_DOCS);
    console.log(`cached getToken: median ${fmt(getToken.median)} ns/op (p10 ${fmt(getToken.p10)}, p90 ${fmt(getToken.p90)}; Map.get ${fmt(getToken.mapGetMedian)})`);
    const getTokenParts = await getTokenBreakdown(AUD_DOCS);
    console.log(`  breakdown: TokenCache without observer ${fmt(getTokenParts.withoutObserverNs)} ns, with the telemetry observer ${fmt(getTokenParts.withTelemetryObserverNs)} ns, with a memoised observer (proposed fix) ${fmt(getTokenParts.withMemoisedObserverNs)} ns, redact(audience) ${fmt(getTokenParts.redactAudienceNs)} ns`);
    const policy = policyDecisionNs();
    console.log(`policy decision (${policy.rules} rules): median ${fmt(policy.median, 0)} ns`);
    const stampede = await coldStampede(stack.issuer, stack.secure.certificates, SERVICE_ID, AUD_DOCS);
    console.log(`cold stampede: ${stampede.callers} callers → ${stampede.tokenRequests} issuer token request(s), ${stampede.distinctValues} distinct token(s)`);
    const heapCalls = await heapOverGuardedCalls(stack.secure.guard, async () => (await stack.secure.tokens.getToken(AUD_DOCS)).value, GUARDED_CALLS);
    console.log(`heap over ${heapCalls.calls} guarded calls (${fmt(heapCalls.seconds)} s): ${fmt(heapCalls.heapBeforeMb, 2)} → ${fmt(heapCalls.heapAfterMb, 2)} MB (quarters ${heapCalls.samplesMb.map((x) => fmt(x, 2)).join(', ')})`);
    const audiences = await heapForAudiences();
    console.log(`10,000 cached audiences: +${fmt(audiences.heapMb, 2)} MB heap (token strings ${fmt(audiences.tokenCharsMb, 2)} MB)`);
    micro = { getToken, getTokenParts, policy, stampede, heapCalls, audiences };
  } finally {
    await stack.close();
  }
  machine.loadAverageEnd = loadavg().map((x) => Math.round(x * 100) / 100);

  const m = micro as {
    getToken: ReturnType<typeof cachedGetTokenNs>;
    policy: ReturnType<typeof policyDecisionNs>;
    stampede: Awaited<ReturnType<typeof coldStampede>>;
    heapCalls: Awaited<ReturnType<typeof heapOverGuardedCalls>>;
    audiences: Awaited<ReturnType<typeof heapForAudiences>>;
  };
  const heapGrowth = m.heapCalls.heapAfterMb - m.heapCalls.heapBeforeMb;
  const targets = [
    { name: 'cached getToken median', target: '≤ 150 ns', value: `${fmt(m.getToken.median)} ns`, met: m.getToken.median <= 150 },
    { name: 'policy decision median, 1,000 rules', target: '≤ 2,000 ns (bench/policy.ts)', value: `${fmt(m.policy.median, 0)} ns`, met: m.policy.median <= 2000 },
    { name: 'cold stampede of 1,000 getToken', target: 'exactly 1 issuer request', value: `${m.stampede.tokenRequests}`, met: m.stampede.tokenRequests === 1 },
    { name: `heap growth over ${m.heapCalls.calls.toLocaleString('en')} guarded calls`, target: 'flat (< 2 MB growth)', value: `${fmt(heapGrowth, 2)} MB`, met: heapGrowth < 2 },
    { name: '10,000 cached audiences', target: '≤ 20 MB', value: `${fmt(m.audiences.heapMb, 2)} MB`, met: m.audiences.heapMb <= 20 },
    ...throughput
      .filter((t) => !Number.isNaN(t.target))
      .map((t) => ({ name: `${t.driver} throughput ratio at ${t.concurrency} concurrent`, target: `≥ ${pct(t.target)} of raw`, value: pct(t.ratio), met: t.met })),
  ];
  const result = {
    generatedAt: started.toISOString(),
    machine,
    method: { roundMs: ROUND_MS, roundsPerVariant: ROUNDS, warmupMs: WARMUP_MS, concurrency: CONCURRENCY, drivers: DRIVERS },
    throughput,
    micro,
    targets,
  };
  await writeFile(join(OUT_DIR, 'benchmarks.json'), `${JSON.stringify(result, null, 2)}\n`);
  // Keep the hand-written analysis that follows the generated block.
  const mdPath = join(OUT_DIR, 'benchmarks.md');
  const previous = await readFile(mdPath, 'utf8').catch(() => '');
  const marker = '<!-- generated:end -->';
  const notes = previous.includes(marker) ? previous.slice(previous.indexOf(marker) + marker.length) : '\n';
  await writeFile(mdPath, renderMarkdown(result, throughput, targets).replace(`${marker}\n`, marker) + notes);
  console.log(`targets: ${targets.filter((t) => t.met).length}/${targets.length} met; load ${machine.loadAverageEnd.join(' ')}; wrote ${OUT_DIR}/benchmarks.{json,md}`);
}

function renderMarkdown(
  result: { generatedAt: string; machine: Record<string, unknown>; method: Record<string, unknown> },
  throughput: readonly PairResult[],
  targets: readonly { name: string; target: string; value: string; met: boolean }[],
): string {
  const mc = result.machine as { os: string; cpu: string; memoryGb: number; node: string; loadAverageStart: number[]; loadAverageEnd: number[] };
  const lines = [
    '# Benchmarks',
    '',
    '<!-- The tables between the markers are generated by `npm run bench` (bench/run.ts); the notes after them are written by hand. -->',
    '<!-- generated:start -->',
    `Generated ${result.generatedAt} by \`npm run bench\` (bench/run.ts).`,
    '',
    `Machine: ${mc.cpu}, ${mc.memoryGb} GB, ${mc.os}, Node ${mc.node}. Load average (1/5/15 min) at start ${mc.loadAverageStart.join(' / ')}, at end ${mc.loadAverageEnd.join(' / ')}` +
      ' — other processes (test suites) may share this machine; the interleaved rounds below exist to cancel that out of the ratios, not out of the absolute numbers.',
    '',
    '## Throughput and latency, raw driver vs guarded client (loopback, mutual TLS)',
    '',
    '| driver | concurrency | raw ops/s | raw p50 / p99 ms | guarded ops/s | guarded p50 / p99 ms | ratio (median of rounds) | per-round ratios | target |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |',
    ...throughput.map(
      (t) =>
        `| ${t.driver} | ${t.concurrency} | ${fmt(t.raw.opsPerSec, 0)} | ${fmt(t.raw.p50Ms, 2)} / ${fmt(t.raw.p99Ms, 2)} | ${fmt(t.guarded.opsPerSec, 0)} | ${fmt(t.guarded.p50Ms, 2)} / ${fmt(t.guarded.p99Ms, 2)} | ${pct(t.ratio)} | ${t.ratioPerRound.join(', ')} | ${Number.isNaN(t.target) ? '—' : `≥ ${pct(t.target)} ${t.met ? 'met' : '**missed**'}`} |`,
    ),
    '',
    '## Targets (DESIGN.md §9)',
    '',
    '| measure | target | measured | |',
    '| --- | --- | --- | --- |',
    ...targets.map((t) => `| ${t.name} | ${t.target} | ${t.value} | ${t.met ? 'met' : '**missed**'} |`),
    '',
    '## Method',
    '',
    `- One process, one run: the stack (test PKI, MockTokenIssuer, document API, MongoDB wire server, SigV4 gateway + dynalite) and ONE \`createSecureClientFactory\` are started on 127.0.0.1; every connection is mutual TLS with the workload certificate.`,
    '- Raw clients use the same material: undici `Agent` with the same client certificate and the same (certificate-bound) bearer token; `MongoClient` with the same certificate and MONGODB-OIDC with the same token from a static `OIDC_CALLBACK`; `DynamoDBClient` with the static credentials of the same STS session (read at the gateway) and an `https.Agent` (keep-alive, 50 sockets) with the same certificate.',
    '- Operations: HTTP `GET /v1/docs/42` (the API verifies the JWT against the JWKS on every request), Mongo `findOne({_id: 1})`, DynamoDB `GetItem`. Guarded calls run policy (3-rule document), breaker, retry budget and token lookup, with no audit sink and the default no-op OpenTelemetry API.',
    `- Closed loop: N workers call back to back. Per driver and concurrency: ${String(result.method.warmupMs)} ms warm-up of each side, then ${String(result.method.roundsPerVariant)} rounds of ${String(result.method.roundMs)} ms per side, interleaved raw/guarded then guarded/raw (ABBA…), so machine drift and neighbours' load hit both sides alike. The ratio is the median over rounds of guarded/raw throughput of the adjacent pair; ops/s and latencies are pooled over all rounds.`,
    '- Micro figures: cached `getToken` and policy decision are medians of 1,001 short samples (short samples are rarely preempted on a loaded machine); the stampede is 1,000 concurrent `getToken` on a brand-new cache and source against the real issuer; heap figures are `heapUsed` after two forced full GCs, the 1,000,000 calls going through the factory\'s guard with an in-process attempt (no network) in batches of 1,000 that each yield to the event loop (as real I/O does, so the breaker\'s rolling-window timers run), baseline taken after 11 s of calls (the breaker\'s 10 s rolling window full), sampled at each quarter.',
    '<!-- generated:end -->',
    '',
  ];
  return lines.join('\n');
}

await main();
