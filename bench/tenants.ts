// How the bench's agents are grouped into tenants. A real support platform has a heavy tail: most tenants are a few
// agents, some are teams of dozens, a few are contact centres of hundreds to thousands. The realistic shape (the
// default) draws each tenant's size from three log-uniform bands, from a fixed seed, so every run and every process
// of a run sees the same tenants:
//
//   70 % of tenants   2-20 agents
//   25 %             20-200
//    5 %            200-2,000
//
// (mean ~66 agents a tenant; about 60 % of all agents are in the 5 % of large tenants). `--tenant-size 50` gives the
// old shape, every tenant 50 agents. Supervisors, each with a live stream, come in proportion to the team: one per
// 100 agents, at least one per tenant.
//
// Agents are numbered 1..N in tenant order, so the agents of a run that grows 10k -> 100k -> 1M keep their tenants.

export type TenantShape = 'realistic' | number;

const BANDS = [
  { share: 0.7, min: 2, max: 20 },
  { share: 0.25, min: 20, max: 200 },
  { share: 0.05, min: 200, max: 2000 },
];
const AGENTS_PER_SUPERVISOR = 100;
const SEED = 20261203;

export interface TenantRange {
  /** Tenant number, 1-based. */
  tenant: number;
  /** Its first and last agent numbers. */
  firstAgent: number;
  lastAgent: number;
  /** Its first supervisor number and how many it has. */
  firstSupervisor: number;
  supervisors: number;
}

export interface TenantLayout {
  shape: TenantShape;
  /** The tenant of agent n. */
  tenantOf(agent: number): number;
  /** The tenants that hold any of the agents from..to, in order. */
  tenantsOf(from: number, to: number): TenantRange[];
  /** How many supervisors the tenants of agents 1..agents have (the streams open at that size). */
  supervisorsUpTo(agents: number): number;
  /** Tenant sizes of agents 1..agents, for the report: count, and agents in each band. */
  describe(agents: number): { tenants: number; supervisors: number; sizes: Record<string, { tenants: number; agents: number }> };
}

export function parseTenantShape(value: string | undefined): TenantShape {
  if (value === undefined || value === 'realistic') return 'realistic';
  const size = Number(value);
  if (!Number.isInteger(size) || size < 1 || size > 100_000) {
    throw new Error(`--tenant-size must be 'realistic' or a whole number of agents from 1 to 100000, got '${value}'`);
  }
  return size;
}

/** The layout of the first `maxAgents` agents (and the rest of the last tenant). */
export function tenantLayout(shape: TenantShape, maxAgents: number): TenantLayout {
  const random = mulberry32(SEED);
  const ranges: TenantRange[] = [];
  let agent = 1;
  let supervisor = 1;
  while (agent <= maxAgents) {
    const size = shape === 'realistic' ? drawSize(random) : shape;
    const supervisors = Math.max(1, Math.round(size / AGENTS_PER_SUPERVISOR));
    ranges.push({ tenant: ranges.length + 1, firstAgent: agent, lastAgent: agent + size - 1, firstSupervisor: supervisor, supervisors });
    agent += size;
    supervisor += supervisors;
  }
  const indexOf = (n: number): number => {
    if (n < 1 || n > ranges[ranges.length - 1]!.lastAgent) throw new Error(`agent ${n} is outside the layout of ${maxAgents} agents`);
    let lo = 0;
    let hi = ranges.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (ranges[mid]!.firstAgent <= n) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  return {
    shape,
    tenantOf: (n) => ranges[indexOf(n)]!.tenant,
    tenantsOf: (from, to) => ranges.slice(indexOf(from), indexOf(to) + 1),
    supervisorsUpTo(agents) {
      const last = ranges[indexOf(agents)]!;
      return last.firstSupervisor + last.supervisors - 1;
    },
    describe(agents) {
      const used = ranges.slice(0, indexOf(agents) + 1);
      const sizes: Record<string, { tenants: number; agents: number }> = {};
      for (const band of BANDS) {
        const name = `${band.min}-${band.max}`;
        const inBand = used.filter((r) => {
          const size = r.lastAgent - r.firstAgent + 1;
          return size >= band.min && (size < band.max || band === BANDS[BANDS.length - 1]);
        });
        sizes[name] = { tenants: inBand.length, agents: inBand.reduce((n, r) => n + r.lastAgent - r.firstAgent + 1, 0) };
      }
      return { tenants: used.length, supervisors: this.supervisorsUpTo(agents), sizes };
    },
  };
}

function drawSize(random: () => number): number {
  let pick = random();
  const band = BANDS.find((b) => (pick -= b.share) < 0) ?? BANDS[BANDS.length - 1]!;
  // Log-uniform within the band: as many tenants of 2-4 agents as of 10-20.
  return Math.floor(Math.exp(Math.log(band.min) + random() * (Math.log(band.max) - Math.log(band.min))));
}

/** A small seeded generator (mulberry32): the same tenants on every run and in every process. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
