// Hyperparameter overrides checked against the manifest's declared constraints, with the
// wording of mlspec/runtime/hyperparams.py and mlspec/spec/hyper.py, so a refusal reads the same
// in a web page, in Node.js and on the mlspec command line (tests/js compares them).

export const ALIASES = { lr: "learning_rate", batch_size: "mini_batch_size" };
const ALL_NAMES = [
  "learning_rate", "mini_batch_size", "epochs", "shuffle", "seed", "momentum", "nesterov",
  "beta1", "beta2", "eps", "weight_decay", "clip_norm", "clip_value",
];

export class HyperparameterError extends Error {
  constructor(message) {
    super(message);
    this.name = "HyperparameterError";
  }
}

/** Python's "%g": six significant digits, trailing zeros dropped, exponent outside [-4, 6). */
function formatG(value) {
  if (value === 0) return "0";
  const exponent = Math.floor(Math.log10(Math.abs(Number(value.toPrecision(6)))));
  if (exponent < -4 || exponent >= 6) {
    const [mantissa, power] = value.toExponential(5).split("e");
    const digits = mantissa.includes(".") ? mantissa.replace(/\.?0+$/, "") : mantissa;
    const sign = power.startsWith("-") ? "-" : "+";
    return `${digits}e${sign}${power.replace(/^[-+]/, "").padStart(2, "0")}`;
  }
  const fixed = value.toFixed(Math.max(0, 5 - exponent));
  return fixed.includes(".") ? fixed.replace(/\.?0+$/, "") : fixed;
}

/** How Python shows a value of the parameter's type (repr for whole floats, %g otherwise). */
function shown(value, type) {
  if (type === "int") return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return value.toFixed(1);
  return formatG(value);
}

function repr(raw) {
  if (typeof raw === "string") return `'${raw}'`;
  if (raw === true) return "True";
  if (raw === false) return "False";
  return String(raw);
}

function violation(name, entry, value) {
  if (entry.range) {
    const [low, high] = entry.range;
    if (low <= value && value <= high) return null;
    return `${name}=${shown(value, entry.type)} is outside the allowed range [${shown(low, entry.type)}, ${shown(high, entry.type)}]`;
  }
  if (entry.set) {
    if (entry.set.includes(value)) return null;
    const listed = entry.set.map((v) => shown(v, entry.type)).join(", ");
    return `${name}=${shown(value, entry.type)} is not in the allowed set {${listed}}`;
  }
  return `${name} has no allowed values (the spec declares neither a range nor a set)`;
}

/** [value, problem or null]: `raw` coerced to the declared type and tested against its constraint. */
export function checkValue(name, entry, raw) {
  if (entry.type === "bool") {
    if (typeof raw !== "boolean") return [entry.default, `${name} must be true or false, got ${repr(raw)}`];
    return [raw, null];
  }
  if (typeof raw !== "number") return [entry.default, `${name} must be a number, got ${repr(raw)}`];
  if (entry.type === "int" && !Number.isInteger(raw)) {
    return [entry.default, `${name} must be a whole number, got ${repr(raw)}`];
  }
  if (!Number.isFinite(raw)) return [entry.default, `${name} must be finite, got ${repr(raw)}`];
  return [raw, violation(name, entry, raw)];
}

function notApplicable(key, name, declared, optimizer) {
  const valid = Object.keys(declared).join(", ");
  if (name === "clip_norm" || name === "clip_value") {
    const kind = name === "clip_norm" ? "norm" : "value";
    return `${name} does not apply: the spec declares no gradient clipping by ${kind}; valid names: ${valid}`;
  }
  if (ALL_NAMES.includes(name)) {
    return `${name} does not apply to this model's ${optimizer} optimizer; valid names: ${valid}`;
  }
  const aliases = Object.entries(ALIASES).map(([short, full]) => `${short} = ${full}`).join(", ");
  return `unknown hyperparameter ${repr(key)}; valid names: ${valid} (aliases: ${aliases})`;
}

/**
 * The run's settings: the manifest's defaults with `overrides` applied, every problem refused
 * together before any work (one HyperparameterError listing them all).
 */
export function resolveHyperparameters(manifest, overrides = {}, source = "spec") {
  const declared = manifest.hyperparameters;
  const values = Object.fromEntries(Object.entries(declared).map(([name, e]) => [name, e.default]));
  const problems = [];
  for (const [key, raw] of Object.entries(overrides)) {
    const name = ALIASES[key] ?? key;
    if (!(name in declared)) {
      problems.push(notApplicable(key, name, declared, manifest.optimizer.kind));
      continue;
    }
    const [value, problem] = checkValue(name, declared[name], raw);
    if (problem) problems.push(problem);
    else values[name] = value;
  }
  if (problems.length === 1) throw new HyperparameterError(`${source}: ${problems[0]}`);
  if (problems.length > 1) {
    const listed = problems.map((p) => `\n  - ${p}`).join("");
    throw new HyperparameterError(`${source}: ${problems.length} overrides refused:${listed}`);
  }
  return values;
}
