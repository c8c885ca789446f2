/**
 * Fault-injection soak: `npx tsx bench/soak.ts` (or `npm run soak`). Loopback only,
 * bounded (SOAK_SECONDS, default 80). Sustained load on the HTTP, MongoDB and
 * DynamoDB clients of ONE factory while, on a fixed schedule:
 *
 *   - the workload certificate rotates every SOAK_ROTATE_MS (4 s), except
 *     around the issuer outage (see below);
 *   - the issuer's signing key rotates (twice);
 *   - the issuer's token and STS endpoints hang for SOAK_OUTAGE_S (6 s), then resume;
 *   - the current docs-api and orders-db tokens are revoked at the issuer (the
 *     stores reject them → the clients refresh);
 *   - the document API answers 503 for SOAK_FAULT_S (4 s): the HTTP breaker
 *     opens, the faults stop, the breaker closes.
 *
 * Expected failures are narrow: ONLY `CIRCUIT_OPEN` and `UPSTREAM_UNAVAILABLE`,
 * ONLY on HTTP, ONLY from the start of the 503 window until the breaker has
 * closed again (plus 1 s for in-flight calls). Anything else fails the run.
 *
 * Exit code 1 on: an unexpected failure; issuer token/STS requests above the
 * bound that token lifetimes, rotations, revocations and the outage explain;
 * a breaker that did not open and close; a canary secret (token values seen by
 * the stores, STS secrets, private key PEMs) in captured console output, audit
 * records, spans or error texts; a handle left open after closing everything.
 * Writes the summary to docs/soak.md (SOAK_OUT, or nothing when SOAK_OUT=-).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { format, inspect } from 'node:util';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { decodeJwt } from 'jose';
import { MemoryAuditSink } from '../src/audit/index.js';
import { isSecureNosqlError } from '../src/errors/index.js';
import { AUD_DOCS, AUD_MONGO, DOC_PATH, startStack } from './lib/stack.js';

const num = (name: string, fallback: number): number => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};
const DURATION_S = Math.max(40, num('SOAK_SECONDS', 80));
const ROTATE_MS = num('SOAK_ROTATE_MS', 4000);
const OUTAGE_S = num('SOAK_OUTAGE_S', 6);
const FAULT_S = num('SOAK_FAULT_S', 4);
const WORKERS = num('SOAK_WORKERS', 3);
const TOKEN_TTL_S = 24;
const REFRESH_AT = 0.5; // refresh every ~12 s, so the outage overlaps background refreshes
const BREAKER_RESET_MS = 2000;
const OUT = process.env.SOAK_OUT ?? 'docs/soak.md';

// Schedule, in seconds from the start of load (scaled with the duration; defaults for 80 s).
const at = (fraction: number): number => Math.round(DURATION_S * fraction * 10) / 10;
const T = {
  keyRotation1: at(0.12),
  outageStart: at(0.35),
  revoke: at(0.55),
  keyRotation2: at(0.62),
  faultStart: at(0.72),
};
const outageEnd = T.outageStart + OUTAGE_S;
const faultEnd = T.faultStart + FAULT_S;
// No certificate rotation from 8 s before the outage to 1 s after: a rotation purges the
// certificate-bound tokens, and with the issuer down no valid token would exist — that is
// not a "valid token exists" window (DESIGN §9). The 8 s also make the next background
// refresh fall inside the outage.
const noRotation = (t: number): boolean => t >= T.outageStart - 8 && t <= outageEnd + 1;

// ---- capture every log surface --------------------------------------------------------
const captured: string[] = [];
const out = (line: string): void => void process.stdout.write(`${line}\n`);
for (const level of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
  const original = console[level].bind(console);
  console[level] = (...args: unknown[]) => {
    captured.push(format(...args));
    original(...args);
  };
}
process.on('warning', (w) => captured.push(inspect(w)));

/** `Name(code)` of each error down the cause chain, for diagnosing a failure class. */
function causeChain(error: unknown): string {
  const parts: string[] = [];
  let e: unknown = (error as { cause?: unknown }).cause;
  for (let i = 0; i < 5 && e !== null && typeof e === 'object'; i++) {
    const { name, code } = e as { name?: unknown; code?: unknown };
    parts.push(`${typeof name === 'string' ? name : 'Object'}${typeof code === 'number' || typeof code === 'string' ? `(${String(code)})` : ''}`);
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join(' ⟵ ') || 'no cause';
}

async function main(): Promise<number> {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const audit = new MemoryAuditSink({ maxRecords: 1_000_000 });
  const stack = await startStack({
    tokenTtlSeconds: TOKEN_TTL_S,
    audit,
    tracerProvider,
    // A 2 s rolling window: with the default 10 s one, a 4 s fault window may not reach 50% errors at high call rates.
    breaker: { resetTimeout: BREAKER_RESET_MS, volumeThreshold: 10, errorThresholdPercentage: 50, rollingCountTimeout: 2000, rollingCountBuckets: 10 },
    retry: { baseDelayMs: 20, maxDelayMs: 200 },
    tokenCache: { refreshAt: REFRESH_AT },
  });
  const { secure, issuer, pki, api } = stack;
  const canaries = new Set<string>([pki.current.privateKeyPem]);
  const gen0 = secure.certificates.current();
  canaries.add(gen0.privateKeyPem);

  const startTokenRequests = issuer.requestCount('token');
  const startStsRequests = issuer.requestCount('sts');
  const t0 = performance.now();
  const now = (): number => (performance.now() - t0) / 1000;
  const end = DURATION_S;

  // ---- breaker events ----
  const breakerLog: { t: number; target: string; state: string }[] = [];
  const breakerSub = secure.guard.onBreakerStateChange((c) => breakerLog.push({ t: now(), target: c.target, state: c.state }));
  const httpTargetKey = (t: string): boolean => t.includes(String(api.port));

  // ---- load ----
  type Result = { attempted: number; ok: number; failed: Map<string, number>; unexpected: { t: number; code: string; message: string }[]; expected: number };
  const results = new Map<string, Result>();
  const errorTexts: string[] = [];
  const isExpected = (driver: string, code: string, t: number, windowEnd: number): boolean => {
    if (driver !== 'http' || (code !== 'CIRCUIT_OPEN' && code !== 'UPSTREAM_UNAVAILABLE')) return false;
    return t >= T.faultStart && t <= windowEnd;
  };
  const ops: Record<string, () => Promise<void>> = {
    http: async () => {
      const r = await stack.http.request({ method: 'GET', path: DOC_PATH, route: '/v1/docs/:id' });
      await r.body.dump();
      if (r.statusCode !== 200) throw new Error(`HTTP ${r.statusCode}`);
    },
    mongodb: async () => {
      if ((await stack.mongo.collection('orders', 'items').findOne({ _id: 1 as never })) === null) throw new Error('document missing');
    },
    dynamodb: async () => {
      if ((await stack.ddb.send(new GetItemCommand({ TableName: 'orders', Key: { pk: { S: 'o-1' } } }))).Item === undefined) throw new Error('item missing');
    },
  };
  const worker = async (driver: string): Promise<void> => {
    const r = results.get(driver)!;
    const op = ops[driver]!;
    while (now() < end) {
      r.attempted++;
      try {
        await op();
        r.ok++;
      } catch (error) {
        const t = now();
        const code = isSecureNosqlError(error) ? error.code : `non-library:${(error as Error).name}`;
        r.failed.set(code, (r.failed.get(code) ?? 0) + 1);
        if (errorTexts.length < 400) errorTexts.push(inspect(error, { depth: 6 }), (error as Error).message);
        // Decide after the run (the breaker-closed time is known only then).
        r.unexpected.push({ t, code, message: `${(error as Error).message.slice(0, 160)} ⟵ ${causeChain(error)}` });
        // Don't spin on fast failures (an open breaker fails in microseconds).
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  };
  for (const d of Object.keys(ops)) results.set(d, { attempted: 0, ok: 0, failed: new Map(), unexpected: [], expected: 0 });

  // ---- fault schedule ----
  const events: string[] = [];
  const note = (what: string): void => {
    events.push(`${now().toFixed(1).padStart(5)} s  ${what}`);
    out(`[${now().toFixed(1)} s] ${what}`);
  };
  let rotations = 0;
  let revocations = 0;
  let outageHungRequests = 0;
  const schedule = async (): Promise<void> => {
    const sleepUntil = async (t: number): Promise<void> => {
      const ms = (t - now()) * 1000;
      if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
    };
    const steps: { t: number; run: () => Promise<void> | void }[] = [];
    for (let t = ROTATE_MS / 1000; t < end - 2; t += ROTATE_MS / 1000) {
      if (noRotation(t)) continue;
      steps.push({
        t,
        run: async () => {
          const issued = await pki.rotate();
          canaries.add(issued.privateKeyPem);
          rotations++;
          note(`certificate rotated (#${rotations})`);
        },
      });
    }
    const rotateKey = async (): Promise<void> => {
      note(`issuer signing key rotated (kid ${await issuer.rotateSigningKey()})`);
    };
    steps.push({ t: T.keyRotation1, run: rotateKey });
    steps.push({ t: T.keyRotation2, run: rotateKey });
    steps.push({
      t: T.outageStart,
      run: () => {
        outageHungRequests = issuer.requestCount('token') + issuer.requestCount('sts');
        issuer.hang('token');
        issuer.hang('sts');
        note(`issuer DOWN: token and STS endpoints hang for ${OUTAGE_S} s`);
      },
    });
    steps.push({
      t: outageEnd,
      run: () => {
        outageHungRequests = issuer.requestCount('token') + issuer.requestCount('sts') - outageHungRequests;
        issuer.resume();
        note(`issuer back (${outageHungRequests} token/STS request(s) arrived during the outage)`);
      },
    });
    steps.push({
      t: T.revoke,
      run: async () => {
        // Revoke right after a rotation: the MongoDB client has just swapped and its new
        // connections authenticate with the fresh token, so the revocation reaches new
        // handshakes (the hardest case), not only already-authenticated connections.
        const before = secure.certificates.current().generation;
        canaries.add((await pki.rotate()).privateKeyPem);
        rotations++;
        note(`certificate rotated (#${rotations}) before the revocation`);
        for (let i = 0; i < 60 && secure.certificates.current().generation === before; i++) await new Promise((resolve) => setTimeout(resolve, 50));
        await new Promise((resolve) => setTimeout(resolve, 300));
        for (const audience of [AUD_DOCS, AUD_MONGO]) {
          const token = await secure.tokens.getToken(audience);
          const jti = decodeJwt(token.value).jti;
          if (jti !== undefined) {
            issuer.revoke(jti);
            revocations++;
          }
        }
        note(`revoked the current ${AUD_DOCS} and ${AUD_MONGO} tokens at the issuer`);
      },
    });
    steps.push({
      t: T.faultStart,
      run: () => {
        api.failNext(1_000_000, { status: 503 });
        note(`document API answers 503 for ${FAULT_S} s`);
      },
    });
    steps.push({
      t: faultEnd,
      run: () => {
        api.failNext(0, { status: 503 });
        note('document API healthy again');
      },
    });
    steps.sort((a, b) => a.t - b.t);
    for (const step of steps) {
      await sleepUntil(step.t);
      await step.run();
    }
  };

  // Canary tokens from the cache itself, sampled while running.
  const sampler = setInterval(() => {
    for (const t of secure.tokens.cachedTokens()) canaries.add(t.value);
  }, 500);

  out(`soak: ${DURATION_S} s, ${WORKERS} workers per driver, token TTL ${TOKEN_TTL_S} s (refresh at ${REFRESH_AT * 100}%), rotation every ${ROTATE_MS} ms`);
  await Promise.all([schedule(), ...[...results.keys()].flatMap((d) => Array.from({ length: WORKERS }, () => worker(d)))]);
  clearInterval(sampler);
  for (const t of secure.tokens.cachedTokens()) canaries.add(t.value);
  for (const t of stack.tokensSeen) canaries.add(t);
  for (const s of stack.sessionsSeen.values()) {
    canaries.add(s.secretAccessKey);
    canaries.add(s.sessionToken);
  }
  const httpTarget = breakerLog.filter((b) => b.t >= T.faultStart && httpTargetKey(b.target));
  const opened = httpTarget.find((b) => b.state === 'open');
  const closed = httpTarget.find((b) => b.state === 'closed' && opened !== undefined && b.t > opened.t);
  const breakerClosedAt = closed?.t;
  const windowEnd = (breakerClosedAt ?? end) + 1;

  // ---- verdicts ----
  const problems: string[] = [];
  for (const [driver, r] of results) {
    const unexpected = r.unexpected.filter((u) => !isExpected(driver, u.code, u.t, windowEnd));
    r.expected = r.unexpected.length - unexpected.length;
    if (unexpected.length > 0) {
      const byCode = new Map<string, number>();
      for (const u of unexpected) byCode.set(u.code, (byCode.get(u.code) ?? 0) + 1);
      problems.push(
        `${unexpected.length} unexpected ${driver} failure(s) between ${unexpected[0]!.t.toFixed(1)} s and ${unexpected.at(-1)!.t.toFixed(1)} s (${[...byCode].map(([c, n]) => `${c} ${n}`).join(', ')})`,
      );
      const distinct = [...new Set(unexpected.map((u) => `${u.code} — ${u.message}`))];
      for (const m of distinct.slice(0, 3)) problems.push(`  e.g. ${m}`);
    }
    if (r.ok === 0) problems.push(`${driver}: no successful call`);
  }
  if (opened === undefined) problems.push('the HTTP breaker never opened during the 503 window');
  if (closed === undefined) problems.push('the HTTP breaker never closed after the 503 window');

  const elapsed = now();
  const tokenRequests = issuer.requestCount('token') - startTokenRequests;
  const stsRequests = issuer.requestCount('sts') - startStsRequests;
  // Upper bound of token requests that lifetimes, rotations, revocations and the outage explain.
  // Per audience (docs-api, orders-db, sts): one fetch per (refreshAt − jitter) × TTL, plus one.
  // Each certificate rotation purges the bound tokens of every audience (≤ 1 refetch each, the
  // MongoDB client swap included); each revocation costs one refetch; the outage may cost up to
  // 6 attempts per audience (hung, then retried with backoff after resume).
  const audiences = 3;
  const periodic = audiences * (Math.ceil(elapsed / ((REFRESH_AT - 0.05) * TOKEN_TTL_S)) + 1);
  const tokenBound = periodic + audiences * rotations + revocations + audiences * 6;
  const stsBound = 1 + Math.ceil(elapsed / (0.8 * 3600)) + 6;
  if (tokenRequests > tokenBound) problems.push(`issuer token requests ${tokenRequests} exceed the bound ${tokenBound}`);
  if (stsRequests > stsBound) problems.push(`STS requests ${stsRequests} exceed the bound ${stsBound}`);

  // ---- close everything, then look for canaries and leftover handles ----
  breakerSub.dispose();
  await stack.close();
  await tracerProvider.forceFlush();
  // Read before shutdown: the in-memory exporter forgets its spans when shut down.
  const spans = exporter.getFinishedSpans();
  const spanText = spans.map((s) => JSON.stringify({ name: s.name, attributes: s.attributes, events: s.events, status: s.status, links: s.links })).join('\n');
  await tracerProvider.shutdown();
  const auditText = audit.records.map((r) => JSON.stringify(r)).join('\n');
  const surfaces: Record<string, string> = { console: captured.join('\n'), audit: auditText, spans: spanText, errors: errorTexts.join('\n') };
  const canaryFragments = [...canaries].filter((c) => c.length >= 16).map((c) => (c.includes('-----BEGIN') ? c.split('\n')[1] ?? c : c));
  let leaks = 0;
  for (const [surface, text] of Object.entries(surfaces)) {
    for (const fragment of canaryFragments) {
      if (text.includes(fragment)) {
        leaks++;
        if (leaks <= 5) problems.push(`canary secret (${fragment.slice(0, 6)}…, ${fragment.length} chars) found in ${surface}`);
      }
    }
  }

  await new Promise((resolve) => setTimeout(resolve, 300)); // let closed sockets finish closing
  const handles = process.getActiveResourcesInfo().filter((h) => h !== 'TTYWrap' && h !== 'PipeWrap');
  if (handles.length > 0) problems.push(`handles left open after close: ${handles.join(', ')}`);

  // ---- report ----
  const totals = [...results.entries()].map(([d, r]) => ({
    driver: d,
    attempted: r.attempted,
    ok: r.ok,
    expected: r.expected,
    failedByCode: Object.fromEntries(r.failed),
  }));
  const lines = [
    `# Soak results`,
    '',
    `Latest run of \`npm run soak\` (bench/soak.ts), ${new Date().toISOString()}, Node ${process.version}, load average at end ${loadavg().map((x) => x.toFixed(2)).join(' / ')}.`,
    '',
    `Duration ${elapsed.toFixed(1)} s, ${WORKERS} closed-loop workers per driver, one factory. Token TTL ${TOKEN_TTL_S} s with background refresh at ${REFRESH_AT * 100}% of the lifetime; breakers: 50% errors over a 2 s rolling window (≥ 10 calls), reset timeout ${BREAKER_RESET_MS} ms. Verdict: **${problems.length === 0 ? 'PASS' : 'FAIL'}**.`,
    '',
    '| driver | attempted | succeeded | failed (by code) | of which expected |',
    '| --- | ---: | ---: | --- | ---: |',
    ...totals.map((t) => `| ${t.driver} | ${t.attempted} | ${t.ok} | ${Object.entries(t.failedByCode).map(([c, n]) => `${c} ${n}`).join(', ') || '—'} | ${t.expected} |`),
    '',
    `- Certificate rotations: ${rotations}; signing-key rotations: 2; revocations: ${revocations}; issuer outage ${OUTAGE_S} s with ${outageHungRequests} token/STS request(s) arriving while it was down.`,
    `- Breaker state changes: ${breakerLog.map((b) => `${b.target} ${b.state} at ${b.t.toFixed(1)} s`).join('; ') || 'none'}. Expected-failure window: ${T.faultStart} s → ${windowEnd.toFixed(1)} s, HTTP only, codes CIRCUIT_OPEN and UPSTREAM_UNAVAILABLE only.`,
    `- Issuer token requests: ${tokenRequests} (bound ${tokenBound} = periodic ${periodic} + ${audiences} × ${rotations} rotations + ${revocations} revocations + ${audiences} × 6 outage retries); STS requests: ${stsRequests} (bound ${stsBound}).`,
    `- Canary check: ${canaryFragments.length} secrets (every token value the stores received or the cache held, STS secret keys and session tokens, every private key PEM) searched in ${captured.length} console lines, ${audit.records.length} audit records, ${spans.length} spans and ${errorTexts.length / 2} captured error texts: ${leaks} found.`,
    `- Handles after close: ${handles.length === 0 ? 'none (the process exits by itself)' : handles.join(', ')}.`,
    '',
    '## Schedule',
    '',
    '```',
    ...events,
    '```',
    '',
    problems.length === 0 ? 'No problems.' : '## Problems\n\n' + problems.map((p) => `- ${p}`).join('\n'),
    '',
  ];
  out('');
  out(lines.join('\n'));
  if (OUT !== '-') {
    // Keep the hand-written notes that follow the generated summary.
    const marker = '<!-- generated:end -->';
    const previous = await readFile(OUT, 'utf8').catch(() => '');
    const notes = previous.includes(marker) ? previous.slice(previous.indexOf(marker) + marker.length) : '\n';
    await writeFile(OUT, `<!-- generated by npm run soak (bench/soak.ts); hand-written notes go after the end marker -->\n${lines.join('\n')}\n${marker}${notes}`);
  }
  if (handles.length > 0) {
    // The handles are the failure being reported; don't wait on them forever.
    setTimeout(() => process.exit(1), 2000).unref();
  }
  return problems.length === 0 ? 0 : 1;
}

process.exitCode = await main();
