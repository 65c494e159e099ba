/**
 * Synthetic users: drifting interests, sessions inside one category whose steps follow the
 * category's driving mechanism (same topic, same style, or the successor) unless noise says
 * otherwise. See docs/data-format.md, "Synthetic data".
 */
import { firstAbove, type Rng } from '../../../engine/rng.js';
import type { ProgressFn } from '../../types.js';
import type { PlantedStructure } from '../synth.js';
import type { Catalog } from './catalog.js';

const START_TIME = 1609459200; // 2021-01-01T00:00:00Z

/** Interaction rows (user index, item index, seconds), user-major and chronological. */
export interface UserRows {
  user: number[];
  item: number[];
  time: number[];
}

export interface SimulatedUsers {
  userIds: string[];
  rows: UserRows;
  transitions: PlantedStructure['transitions'];
}

/** `rStruct` draws the popularity orders (after the catalog), `rUsers` everything else. */
export function simulateUsers(
  catalog: Catalog,
  nUsers: number,
  noise: number,
  rStruct: Rng,
  rUsers: Rng,
  progress?: ProgressFn,
): SimulatedUsers {
  // Zipf popularity inside each category for session starts (random rank order)
  const popCum: Float64Array[] = catalog.members.map((m) => {
    const ranks = Int32Array.from(m.keys());
    rStruct.shuffle(ranks);
    const cum = new Float64Array(m.length);
    let s = 0;
    for (let k = 0; k < m.length; k++) cum[k] = s += 1 / Math.pow(ranks[k] + 5, 0.9);
    return cum;
  });
  // category popularity: mildly uneven, random order
  const catWeights = catalog.cats.map((_, c) => 1 / (1 + 0.15 * c));
  rStruct.shuffle(catWeights);
  const userWidth = Math.max(4, String(nUsers).length);
  const userIds = Array.from({ length: nUsers }, (_, u) => `u${String(u + 1).padStart(userWidth, '0')}`);
  const sim = new Simulator(catalog, rUsers, popCum, catWeights, noise);
  for (let u = 0; u < nUsers; u++) {
    sim.user(u);
    if (progress && ((u + 1) % 500 === 0 || u + 1 === nUsers)) progress('synth: users', u + 1, nUsers);
  }
  return { userIds, rows: sim.rows, transitions: sim.transitions };
}

/** One user's state while their sequence grows. */
interface UserState {
  u: number;
  /** Items are never repeated for a user (as in deduplicated review data). */
  seen: Set<number>;
  t: number;
  count: number;
  len: number;
}

class Simulator {
  readonly rows: UserRows = { user: [], item: [], time: [] };
  readonly transitions = { withinSession: 0, followed: 0, random: 0, fallback: 0 };
  private readonly seenCount: Int32Array;
  private readonly none = new Set<number>();

  constructor(
    private readonly catalog: Catalog,
    private readonly r: Rng,
    private readonly popCum: Float64Array[],
    private readonly catWeights: number[],
    private readonly noise: number,
  ) {
    this.seenCount = new Int32Array(catalog.cats.length);
  }

  /** A sequence of sessions in the user's (drifting) interests, until its length is reached. */
  user(u: number): void {
    const { cats, members } = this.catalog;
    const nCats = cats.length;
    const r = this.r;
    const len = Math.min(200, 5 + this.geometric(10));
    const interests: number[] = [];
    while (interests.length < Math.min(3, nCats))
      interests.push(this.pickWeighted(this.catWeights, new Set(interests)));
    this.seenCount.fill(0);
    const st: UserState = {
      u,
      seen: new Set(),
      t: START_TIME + Math.floor(r.uniform() * 365 * 86400),
      count: 0,
      len,
    };
    while (st.count < len) {
      let c = interests[this.pickWeighted([0.5, 0.3, 0.2].slice(0, interests.length), this.none)];
      if (this.seenCount[c] >= members[c].length) {
        const exhausted = new Set(
          cats.map((_, k) => k).filter((k) => this.seenCount[k] >= members[k].length),
        );
        if (exhausted.size === nCats) break; // the user has seen the whole catalog
        c = this.pickWeighted(this.catWeights, exhausted);
      }
      this.session(st, c);
      st.t += 3600 + Math.round(this.exponential(3 * 86400));
      if (r.uniform() < 0.2 && nCats > interests.length) {
        interests[r.int(interests.length)] = this.pickWeighted(this.catWeights, new Set(interests));
      }
    }
  }

  /** A popular first item, then steps that follow the driving mechanism with probability 1 - noise. */
  private session(st: UserState, c: number): void {
    const { members, driving, successor, groupMembers, itemGroup } = this.catalog;
    const sessionLen = 1 + this.geometric(3);
    let prev = this.popularUnseen(c, st.seen);
    this.push(st, prev);
    for (let k = 1; k < sessionLen && st.count < st.len && this.seenCount[c] < members[c].length; k++) {
      st.t += 20 + Math.round(this.exponential(180));
      let next = -1;
      if (this.r.uniform() >= this.noise) {
        next =
          driving[c] === 'id'
            ? st.seen.has(successor[prev])
              ? -1
              : successor[prev]
            : this.uniformUnseen(groupMembers[itemGroup[prev]], st.seen);
        if (next >= 0) this.transitions.followed++;
        else this.transitions.fallback++;
      } else this.transitions.random++;
      // when the mechanism has no unseen candidate the step falls back to random
      if (next < 0) next = this.uniformUnseen(members[c], st.seen);
      this.transitions.withinSession++;
      this.push(st, next);
      prev = next;
    }
  }

  private push(st: UserState, it: number): void {
    this.rows.user.push(st.u);
    this.rows.item.push(it);
    this.rows.time.push(st.t);
    st.seen.add(it);
    this.seenCount[this.catalog.itemCat[it]]++;
    st.count++;
  }

  private geometric(mean: number): number {
    return Math.floor(Math.log(1 - this.r.uniform()) / Math.log(mean / (mean + 1)));
  }

  private exponential(mean: number): number {
    return -mean * Math.log(1 - this.r.uniform());
  }

  private pickWeighted(w: number[], exclude: Set<number>): number {
    let total = 0;
    for (let k = 0; k < w.length; k++) if (!exclude.has(k)) total += w[k];
    let x = this.r.uniform() * total;
    for (let k = 0; k < w.length; k++) {
      if (exclude.has(k)) continue;
      x -= w[k];
      if (x < 0) return k;
    }
    for (let k = w.length - 1; k >= 0; k--) if (!exclude.has(k)) return k;
    return -1;
  }

  private uniformUnseen(list: number[], seen: Set<number>): number {
    for (let tries = 0; tries < 8; tries++) {
      const it = list[this.r.int(list.length)];
      if (!seen.has(it)) return it;
    }
    const rest = list.filter((it) => !seen.has(it));
    return rest.length ? rest[this.r.int(rest.length)] : -1;
  }

  private popularUnseen(c: number, seen: Set<number>): number {
    const cum = this.popCum[c];
    for (let tries = 0; tries < 8; tries++) {
      const x = this.r.uniform() * cum[cum.length - 1];
      const it = this.catalog.members[c][firstAbove(cum, x)];
      if (!seen.has(it)) return it;
    }
    return this.uniformUnseen(this.catalog.members[c], seen);
  }
}
