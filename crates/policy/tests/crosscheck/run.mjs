// Cross-check of the palisade-policy corpus (../corpus/*.json) against an independent
// implementation, @cloud-copilot/iam-simulate.
//
//   cd crates/policy/tests/crosscheck && npm install && node run.mjs [--verbose] [--json FILE]
//
// Each CONTRACT request is translated into iam-simulate's model and evaluated with its core
// `authorize` (Strict mode). We call the core directly rather than `runSimulation` because
// `runSimulation` drops context keys it does not consider valid for the action, which would
// make the comparison about its key tables rather than about evaluation logic.
// Input-error cases (expect: inputError) are not translated: they test the CONTRACT parser.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadPolicy } from '@cloud-copilot/iam-policy';

const here = dirname(fileURLToPath(import.meta.url));
const simDist = join(here, 'node_modules/@cloud-copilot/iam-simulate/dist/esm');
const imp = (p) => import(pathToFileURL(join(simDist, p)).href);
const { authorize } = await imp('core_engine/CoreSimulatorEngine.js');
const { AwsRequestImpl } = await imp('request/request.js');
const { RequestContextImpl } = await imp('requestContext.js');
const { DiscoveryContextKeyConstraints } = await imp('context_keys/discoveryContextKeyConstraints.js');

const DEFAULT_ACCOUNT = '111122223333';
const DECISION = { Allowed: 'allowed', ExplicitlyDenied: 'explicitDeny', ImplicitlyDenied: 'implicitDeny' };

function contextValue(v) {
  if (Array.isArray(v)) return v.map((x) => String(x));
  return String(v);
}

/** Translate one CONTRACT request into iam-simulate's AuthorizationRequest. */
export function translate(r) {
  const context = {};
  for (const [k, v] of Object.entries(r.context ?? {})) context[k] = contextValue(v);
  const accountId = r.resource_account ?? r.principal_account ?? DEFAULT_ACCOUNT;
  const named = (prefix) => (p, i) => loadPolicy(p, { name: `${prefix}${i}` });
  const session = r.session_policies ?? [];
  // CONTRACT allows several session policies (inline + managed); they act as one limit
  // (their union), which is what iam-simulate's single session policy expresses.
  const sessionPolicy =
    session.length === 0
      ? undefined
      : loadPolicy(
          {
            Version: '2012-10-17',
            Statement: session.flatMap((p) => (Array.isArray(p.Statement) ? p.Statement : [p.Statement]))
          },
          { name: 'session' }
        );
  return {
    request: new AwsRequestImpl(
      r.principal,
      { resource: r.resource, accountId },
      r.action,
      new RequestContextImpl(context)
    ),
    sessionPolicy,
    identityPolicies: (r.identity_policies ?? []).map(named('identity')),
    serviceControlPolicies: (r.scps ?? []).map((level, i) => ({
      orgIdentifier: i === 0 ? 'r-root' : `ou-level-${i}`,
      policies: level.map(named(`scp${i}-`))
    })),
    resourceControlPolicies: [],
    resourcePolicy: r.resource_policy ? loadPolicy(r.resource_policy, { name: 'resource' }) : undefined,
    permissionBoundaries: r.permissions_boundary ? [loadPolicy(r.permissions_boundary, { name: 'boundary' })] : undefined,
    vpcEndpointPolicies: undefined,
    simulationParameters: {
      simulationMode: 'Strict',
      discoveryContextKeyConstraints: new DiscoveryContextKeyConstraints([])
    },
    serviceSettings: { s3: { blockPublicAccess: undefined } }
  };
}

export function simulate(r) {
  return DECISION[authorize(translate(r)).result] ?? 'unknown';
}

export function loadCorpus() {
  const dir = join(here, '..', 'corpus');
  const out = [];
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const doc = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    for (const c of doc.cases) out.push({ file: f, ...c });
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const verbose = process.argv.includes('--verbose');
  const jsonOut = process.argv.includes('--json') ? process.argv[process.argv.indexOf('--json') + 1] : null;
  const cases = loadCorpus();
  const perFile = {};
  const disagreements = [];
  let agree = 0;
  let skipped = 0;
  for (const c of cases) {
    const pf = (perFile[c.file] ??= { cases: 0, agree: 0, disagree: 0, skipped: 0 });
    pf.cases++;
    if (c.expect === 'inputError' || typeof c.request !== 'object') {
      pf.skipped++;
      skipped++;
      continue;
    }
    let got;
    try {
      got = simulate(c.request);
    } catch (e) {
      got = `error: ${e.message}`;
    }
    if (got === c.expect) {
      pf.agree++;
      agree++;
    } else {
      pf.disagree++;
      disagreements.push({ file: c.file, name: c.name, corpus: c.expect, iamSimulate: got, rule: c.rule });
    }
  }
  console.log('file'.padEnd(42), 'cases agree disagree skipped');
  for (const [f, s] of Object.entries(perFile)) {
    console.log(f.padEnd(42), String(s.cases).padStart(5), String(s.agree).padStart(5), String(s.disagree).padStart(8), String(s.skipped).padStart(7));
  }
  console.log(`\n${cases.length} cases: ${agree} agree, ${disagreements.length} disagree, ${skipped} skipped (input-error cases)`);
  for (const d of disagreements) {
    console.log(`\n[${d.file}] ${d.name}\n  corpus: ${d.corpus}   iam-simulate: ${d.iamSimulate}${verbose ? `\n  rule: ${d.rule}` : ''}`);
  }
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ agree, skipped, disagreements }, null, 2) + '\n');
}
