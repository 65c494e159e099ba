/** Parameter initialisers. Each draws from the given seeded Rng, so a seed fixes every weight. */
import type { Rng } from '../rng.js';
import { parameter, sizeOf, type Shape, type Tensor } from '../tensor.js';

/** N(0, std²), as RecBole initialises Linear and Embedding weights (std 0.02). */
export function normalParam(shape: Shape, std: number, rng: Rng, name?: string): Tensor {
  const data = new Float32Array(sizeOf(shape));
  // A model built to receive loaded weights draws nothing: skip the loop (a million-item table
  // is 64M calls, seconds of a bundle's load).
  if (rng.draws) for (let i = 0; i < data.length; i++) data[i] = rng.normal() * std;
  return parameter(data, shape, name);
}

/** U(−a, a) with a = gain·sqrt(6 / (fanIn + fanOut)) (Glorot/Xavier uniform) for a [out, in] weight. */
export function xavierUniformParam(shape: Shape, rng: Rng, gain = 1, name?: string): Tensor {
  if (shape.length !== 2) throw new RangeError('xavierUniformParam expects a 2-D [out, in] shape');
  const a = gain * Math.sqrt(6 / (shape[0] + shape[1]));
  const data = new Float32Array(sizeOf(shape));
  if (rng.draws) for (let i = 0; i < data.length; i++) data[i] = (rng.uniform() * 2 - 1) * a;
  return parameter(data, shape, name);
}

/** U(−a, a), as PyTorch models that re-initialise every parameter uniformly (MMSR: a = 1/√d). */
export function uniformParam(shape: Shape, a: number, rng: Rng, name?: string): Tensor {
  const data = new Float32Array(sizeOf(shape));
  if (rng.draws) for (let i = 0; i < data.length; i++) data[i] = (rng.uniform() * 2 - 1) * a;
  return parameter(data, shape, name);
}

export function constantParam(shape: Shape, value: number, name?: string): Tensor {
  return parameter(new Float32Array(sizeOf(shape)).fill(value), shape, name);
}
