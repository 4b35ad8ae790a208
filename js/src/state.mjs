// The portable state file (docs/portable_state.md): "MLSPECST", a uint64 little-endian header
// length, a UTF-8 JSON header {format, version, tensors: [{name, dtype, shape, offset, nbytes}],
// meta}, then the C-order little-endian tensor bytes. Works on Uint8Array in Node and browsers.

const MAGIC = "MLSPECST";
const DTYPES = { float32: [Float32Array, 4], bool: [Uint8Array, 1] };
const MAX_HEADER = 64 << 20;

export class StateFileError extends Error {
  constructor(message) {
    super(message);
    this.name = "StateFileError";
  }
}

/** {tensors: Map(name -> {dtype, shape, data}), meta} from the bytes of a state file. */
export function readState(bytes, where = "state file") {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (bytes.byteLength < 16 || magic !== MAGIC) {
    throw new StateFileError(`${where}: not an mlspec portable state file (no ${MAGIC} header)`);
  }
  const length = Number(view.getBigUint64(8, true));
  if (length > Math.min(MAX_HEADER, bytes.byteLength - 16)) {
    throw new StateFileError(`${where}: header length ${length} runs past the end of the file`);
  }
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + length)));
  if (header.format !== "mlspec-portable-state" || header.version !== 1) {
    throw new StateFileError(`${where}: format ${header.format} version ${header.version} is not mlspec-portable-state 1`);
  }
  const body = bytes.subarray(16 + length);
  const tensors = new Map();
  for (const entry of header.tensors) {
    const [Kind, size] = DTYPES[entry.dtype] ?? [];
    const count = entry.shape.reduce((a, b) => a * b, 1);
    if (!Kind || entry.offset < 0 || entry.offset + entry.nbytes > body.byteLength || entry.nbytes !== count * size) {
      throw new StateFileError(`${where}: tensor ${JSON.stringify(entry.name)} does not fit the file`);
    }
    const copy = body.slice(entry.offset, entry.offset + entry.nbytes);
    tensors.set(entry.name, { dtype: entry.dtype, shape: entry.shape, data: new Kind(copy.buffer) });
  }
  return { tensors, meta: header.meta ?? {} };
}

/** The bytes of a state file holding `tensors` (Map name -> {dtype, shape, data}) and `meta`. */
export function writeState(tensors, meta) {
  const entries = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    const nbytes = t.data.byteLength;
    entries.push({ name, dtype: t.dtype, shape: t.shape, offset, nbytes });
    offset += nbytes;
  }
  const header = new TextEncoder().encode(
    JSON.stringify({ format: "mlspec-portable-state", version: 1, tensors: entries, meta }),
  );
  const out = new Uint8Array(16 + header.byteLength + offset);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setBigUint64(8, BigInt(header.byteLength), true);
  out.set(header, 16);
  let at = 16 + header.byteLength;
  for (const t of tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}
