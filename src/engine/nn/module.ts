/**
 * Module: a named tree of parameters and sub-modules with a train/eval switch, the way
 * PyTorch's nn.Module is used. Parameter names ("encoder.layers.0.attn.q.weight") are the
 * keys under which checkpoints are saved.
 */
import type { Tensor } from '../tensor.js';

export abstract class Module {
  training = true;
  private readonly ownParams = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  /** Registers a parameter under `name` and returns it. */
  protected param(name: string, t: Tensor): Tensor {
    if (this.ownParams.has(name) || this.children.has(name))
      throw new Error(`duplicate module member "${name}"`);
    t.requiresGrad = true;
    this.ownParams.set(name, t);
    return t;
  }

  /** Registers a sub-module under `name` and returns it. */
  protected child<M extends Module>(name: string, m: M): M {
    if (this.ownParams.has(name) || this.children.has(name))
      throw new Error(`duplicate module member "${name}"`);
    this.children.set(name, m);
    return m;
  }

  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.ownParams) out.push([prefix + n, t]);
    for (const [n, c] of this.children) out.push(...c.namedParameters(`${prefix}${n}.`));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Total number of scalar parameters. */
  parameterCount(): number {
    return this.parameters().reduce((s, t) => s + t.size, 0);
  }

  train(on = true): this {
    this.training = on;
    for (const c of this.children.values()) c.train(on);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }
}

/** A list of modules registered as "0", "1", ... */
export class ModuleList<M extends Module> extends Module {
  readonly items: M[];
  constructor(items: M[]) {
    super();
    this.items = items.map((m, i) => this.child(String(i), m));
  }
}
