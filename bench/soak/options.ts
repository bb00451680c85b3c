// The soak's options (see bench/soak.ts for their use), the shared password, where results go, and the log line.
import { join } from 'node:path';
import { projectRoot } from '../../server/config.ts';

export const PASSWORD = 'soak-password';
export const RESULTS = join(projectRoot, 'bench', 'results');

export const SCENARIOS = ['soak', 'restart', 'crash', 'kill', 'frozen', 'timing', 'faults', 'flood'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface Options {
  scenario: Scenario;
  durationS: number;
  agents: number;
  tenants: number;
  supervisors: number;
  intervalS: number;
  churnPerS: number;
  sampleS: number;
}

export function options(argv: string[]): Options {
  const value = (name: string, fallback: number) => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) return fallback;
    const n = Number(argv[i + 1]);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} takes a positive number, got ${argv[i + 1]}`);
    return n;
  };
  const i = argv.indexOf('--scenario');
  const scenario = (i < 0 ? 'soak' : argv[i + 1]) as Scenario;
  if (!SCENARIOS.includes(scenario)) throw new Error(`--scenario is one of ${SCENARIOS.join(', ')}, got ${scenario}`);
  return {
    scenario,
    durationS: value('duration', scenario === 'flood' ? 60 : 600),
    agents: value('agents', 3000),
    tenants: value('tenants', 10),
    supervisors: value('supervisors', 5),
    intervalS: value('interval', 30),
    churnPerS: value('churn', 1),
    sampleS: value('sample', 10),
  };
}

export function log(message: string): void {
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
}
