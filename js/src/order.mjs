// Which examples go into which mini-batch, epoch by epoch (the JavaScript twin of
// mlspec/runtime/batching.py, with its own generator).
//
// An epoch's order is a pure function of (seed, epoch), so a run resumed at epoch k sees the
// order an uninterrupted run would. The generator is not numpy's (PCG64 is costly to write
// without 64-bit integers); it is specified here exactly so that any language can replay it:
//
//   state  = (seed mod 2^32) XOR imul(epoch + 1, 0x9E3779B9)        (uint32)
//   next() = mulberry32: state += 0x6D2B79F5; t = state;
//            t = imul(t ^ (t >>> 15), t | 1); t ^= t + imul(t ^ (t >>> 7), t | 61);
//            return (t ^ (t >>> 14)) >>> 0                          (uint32)
//   order  = Fisher-Yates from the back: for i = n-1 .. 1: j = floor(next() * (i + 1) / 2^32),
//            swap(order[i], order[j]), starting from 0 .. n-1.
//
// Every step is exact 32-bit integer arithmetic (and next() * (i + 1) < 2^53), so the Python
// replay in tests/js/js_order.py gives the same permutation bit for bit. The last partial
// batch is trained as a smaller batch, as in the Python runtime.

const GOLDEN = 0x9e3779b9;
const TWO_32 = 4294967296;

/** A mulberry32 generator seeded with (seed, epoch); returns uint32 values. */
export function generator(seed, epoch) {
  let state = ((Number(BigInt.asUintN(32, BigInt(seed))) ^ Math.imul(epoch + 1, GOLDEN)) >>> 0) | 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** The epoch's example order (an Int32Array permutation of 0 .. count-1), or null unshuffled. */
export function epochOrder(count, { epoch, seed, shuffle }) {
  if (!shuffle) return null;
  const order = new Int32Array(count);
  for (let i = 0; i < count; i += 1) order[i] = i;
  const next = generator(seed, epoch);
  for (let i = count - 1; i > 0; i -= 1) {
    const j = Math.floor((next() * (i + 1)) / TWO_32);
    const held = order[i];
    order[i] = order[j];
    order[j] = held;
  }
  return order;
}

export function batchesPerEpoch(count, batchSize) {
  return Math.ceil(count / batchSize);
}

/** The example indices of each mini-batch in order (the last one may be smaller). */
export function* epochBatches(count, batchSize, order) {
  for (let start = 0; start < count; start += batchSize) {
    const stop = Math.min(start + batchSize, count);
    const indices = new Int32Array(stop - start);
    for (let k = 0; k < indices.length; k += 1) indices[k] = order ? order[start + k] : start + k;
    yield indices;
  }
}
