// Times @cloud-copilot/iam-simulate on the policy sets in ./bench/*.json (CONTRACT requests),
// so the Rust bench of palisade-policy can load the same files and be compared side by side.
//
//   node bench.mjs [--samples N]
//
// Two timings per set, both median µs per evaluation over N samples:
//   prepared  - policies parsed once (loadPolicy outside the loop), then authorize() per
//               evaluation: the fair comparison with a compiled-once Rust engine.
//   from JSON - translate the CONTRACT request (loadPolicy on every policy) + authorize()
//               per evaluation: the comparison with `cli::eval` on a request string.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { translate } from './run.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const simDist = join(here, 'node_modules/@cloud-copilot/iam-simulate/dist/esm');
const { authorize } = await import(pathToFileURL(join(simDist, 'core_engine/CoreSimulatorEngine.js')).href);
const { AwsRequestImpl } = await import(pathToFileURL(join(simDist, 'request/request.js')).href);
const { RequestContextImpl } = await import(pathToFileURL(join(simDist, 'requestContext.js')).href);

const samples = process.argv.includes('--samples') ? Number(process.argv[process.argv.indexOf('--samples') + 1]) : 31;
const DECISION = { Allowed: 'allowed', ExplicitlyDenied: 'explicitDeny', ImplicitlyDenied: 'implicitDeny' };

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median µs per call of fn, calibrating the batch size to ~5 ms per sample. */
function time(fn) {
  for (let i = 0; i < 200; i++) fn(); // warm up the JIT
  let batch = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) fn();
    const ns = Number(process.hrtime.bigint() - t0);
    if (ns > 5e6 || batch >= 1 << 20) break;
    batch *= 2;
  }
  const per = [];
  for (let s = 0; s < samples; s++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) fn();
    per.push(Number(process.hrtime.bigint() - t0) / batch / 1000);
  }
  return median(per);
}

console.log(`iam-simulate ${JSON.parse(readFileSync(join(here, 'node_modules/@cloud-copilot/iam-simulate/package.json'), 'utf8')).version}, node ${process.version}, ${samples} samples`);
console.log('set'.padEnd(14), 'statements'.padStart(10), 'decision'.padStart(13), 'prepared µs'.padStart(12), 'from JSON µs'.padStart(13));
for (const f of readdirSync(join(here, 'bench')).filter((f) => f.endsWith('.json')).sort()) {
  const set = JSON.parse(readFileSync(join(here, 'bench', f), 'utf8'));
  const r = set.request;
  const statements = [...r.identity_policies, r.resource_policy, r.permissions_boundary, ...r.session_policies, ...r.scps.flat()]
    .filter(Boolean)
    .reduce((n, p) => n + (Array.isArray(p.Statement) ? p.Statement.length : 1), 0);
  const prepared = translate(r);
  const accountId = r.resource_account ?? r.principal_account;
  const ctx = Object.fromEntries(Object.entries(r.context).map(([k, v]) => [k, Array.isArray(v) ? v.map(String) : String(v)]));
  const decide = () => {
    prepared.request = new AwsRequestImpl(r.principal, { resource: r.resource, accountId }, r.action, new RequestContextImpl(ctx));
    return authorize(prepared).result;
  };
  const decision = DECISION[decide()];
  if (decision !== set.expect) {
    console.error(`${f}: iam-simulate decided ${decision}, the set expects ${set.expect}`);
    process.exitCode = 1;
  }
  const tPrepared = time(decide);
  const tJson = time(() => authorize(translate(r)).result);
  console.log(
    f.replace('.json', '').padEnd(14),
    String(statements).padStart(10),
    decision.padStart(13),
    tPrepared.toFixed(1).padStart(12),
    tJson.toFixed(1).padStart(13)
  );
}
