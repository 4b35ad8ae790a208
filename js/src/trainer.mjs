// The training loop over mlspec's portable artifacts, driven by manifest.json and loop.json
// alone: any ONNX Runtime binding with the onnxruntime-common API (onnxruntime-node, or
// onnxruntime-web in a Worker) runs it. It does what mlspec/runtime/loop.py does: epochs of
// shuffled mini-batches (order.mjs), the learning-rate schedule (schedule.mjs), overrides checked
// like the Python runtime (hyper.mjs), a refusal of NaN/infinite losses, per-epoch validation
// and checkpoints in the portable state format (state.mjs) that resume exactly.

import { ALIASES, resolveHyperparameters } from "./hyper.mjs";
import { batchesPerEpoch, epochBatches, epochOrder } from "./order.mjs";
import { scheduledRate } from "./schedule.mjs";
import { readState, writeState } from "./state.mjs";
import { gather } from "./data.mjs";

export class DivergedError extends Error {
  constructor(message) {
    super(message);
    this.name = "DivergedError";
  }
}

function scalar(ort, value, dtype) {
  return dtype === "bool"
    ? new ort.Tensor("bool", new Uint8Array([value ? 1 : 0]), [])
    : new ort.Tensor("float32", new Float32Array([value]), []);
}

function argmaxRows(data, rows, classes) {
  const best = new Int32Array(rows);
  for (let r = 0; r < rows; r += 1) {
    let top = 0;
    for (let c = 1; c < classes; c += 1) if (data[r * classes + c] > data[r * classes + top]) top = c;
    best[r] = top;
  }
  return best;
}

export class PortableTrainer {
  /**
   * `files`: {manifest, loop} (parsed JSON) and {stepModel, evalModel, state} (Uint8Array bytes);
   * `checkpoint` (optional bytes) resumes a run saved by `checkpointBytes()`; `overrides` are
   * hyperparameter settings, refused together like the mlspec CLI refuses them.
   */
  static async create(ort, files, { overrides = {}, checkpoint = null, sessionOptions = {} } = {}) {
    const { manifest, loop } = files;
    if (manifest.backend !== "portable" || loop.format !== "mlspec-portable-loop" || loop.version !== 1) {
      throw new Error("manifest.json/loop.json: not portable artifacts (convert with --backend portable)");
    }
    const settings = resolveHyperparameters(manifest, overrides);
    const state = readState(checkpoint ?? files.state, checkpoint ? "checkpoint" : loop.state);
    const options = { executionProviders: ["cpu"], ...sessionOptions };
    const step = await ort.InferenceSession.create(files.stepModel, options);
    const evaluation = await ort.InferenceSession.create(files.evalModel, options);
    return new PortableTrainer(ort, manifest, loop, settings, overrides, state, step, evaluation);
  }

  constructor(ort, manifest, loop, settings, overrides, state, step, evaluation) {
    this.ort = ort;
    this.manifest = manifest;
    this.loop = loop;
    this.stepSession = step;
    this.evalSession = evaluation;
    const meta = state.meta;
    // As the Python session: defaults, then a checkpoint's tunable values, then the caller's.
    const saved = { ...(meta.hyperparameters ?? {}) };
    delete saved.learning_rate;
    for (const key of Object.keys(overrides)) delete saved[ALIASES[key] ?? key];
    this.settings = { ...settings, ...saved };
    this.current = {};
    for (const { input } of loop.carried) {
      const t = state.tensors.get(input);
      if (!t) throw new Error(`state: holds no tensor ${JSON.stringify(input)}; it belongs to other artifacts`);
      this.current[input] = new ort.Tensor("float32", t.data, t.shape);
    }
    const props = meta.properties ?? {};
    this.progress = {
      step: Number(meta.step ?? 0),
      epoch: Number(props.epoch ?? 0),
      batchesDone: Number(props.batches_done ?? 0),
      epochLossSum: Number(props.epoch_loss_sum ?? 0),
      epochExamples: Number(props.epoch_examples ?? 0),
      epochLosses: JSON.parse(props.epoch_losses ?? "[]"),
      baseLearningRate: Number(props.base_learning_rate ?? this.settings.learning_rate),
    };
    this.fetches = [...loop.carried.map((pair) => pair.output), loop.loss_output];
  }

  /** The rate the schedule gives the next step of `epoch`. */
  rate(epoch) {
    return scheduledRate(this.manifest.lr_schedule, this.progress.baseLearningRate, {
      epoch,
      step: this.progress.step,
      epochs: this.settings.epochs,
    });
  }

  /** One optimizer step on the batch `feeds` (ort.Tensors by feed name); returns the loss. */
  async step(feeds, learningRate) {
    const { ort, loop } = this;
    const inputs = { ...feeds };
    for (const { input } of loop.carried) inputs[input] = this.current[input];
    for (const [name, entry] of Object.entries(loop.hyperparameters)) {
      const value = name === "learning_rate" ? learningRate : this.settings[name];
      inputs[entry.input] = scalar(ort, value, entry.dtype);
    }
    this.progress.step += 1;
    if (loop.step_input) inputs[loop.step_input] = scalar(ort, this.progress.step, "float32");
    const out = await this.stepSession.run(inputs, this.fetches);
    for (const { input, output } of loop.carried) this.current[input] = out[output];
    return Number(out[loop.loss_output].data[0]);
  }

  /**
   * Train until the run's epochs are done (or `shouldStop()` says so between batches).
   * `hooks`: onBatch({epoch, batch, batches, loss, size, step, learningRate}),
   * onEpoch({epoch, loss, validationLoss, validationAccuracy}), validation (a dataset),
   * checkpoints ({save(bytes)}), checkpointEvery (epochs, default 1).
   */
  async train(dataset, hooks = {}) {
    const { settings, progress } = this;
    const every = hooks.checkpointEvery ?? 1;
    const batches = batchesPerEpoch(dataset.size, settings.mini_batch_size);
    while (progress.epoch < settings.epochs) {
      const epoch = progress.epoch;
      const order = epochOrder(dataset.size, { epoch, seed: settings.seed, shuffle: settings.shuffle });
      let index = 0;
      for (const indices of epochBatches(dataset.size, settings.mini_batch_size, order)) {
        index += 1;
        if (index <= progress.batchesDone) continue;
        if (hooks.shouldStop?.()) {
          await hooks.checkpoints?.save(this.checkpointBytes());
          return "stopped";
        }
        const learningRate = this.rate(epoch);
        const loss = await this.step(gather(this.ort, dataset, indices), learningRate);
        if (!Number.isFinite(loss)) {
          throw new DivergedError(
            `training diverged: the loss is ${loss} at epoch ${epoch + 1}, batch ${index}; nothing was written. ` +
              "Lower the learning rate, enable gradient clipping, or check the data",
          );
        }
        progress.batchesDone += 1;
        progress.epochLossSum += loss * indices.length;
        progress.epochExamples += indices.length;
        hooks.onBatch?.({ epoch, batch: index - 1, batches, loss, size: indices.length, step: progress.step, learningRate });
      }
      const loss = progress.epochLossSum / progress.epochExamples;
      progress.epochLosses.push(loss);
      progress.epoch = epoch + 1;
      progress.batchesDone = 0;
      progress.epochLossSum = 0;
      progress.epochExamples = 0;
      const validation = hooks.validation ? await this.evaluate(hooks.validation) : null;
      await hooks.onEpoch?.({ epoch, loss, validationLoss: validation?.loss, validationAccuracy: validation?.accuracy });
      if (hooks.checkpoints && ((epoch + 1) % every === 0 || progress.epoch === settings.epochs)) {
        await hooks.checkpoints.save(this.checkpointBytes());
      }
    }
    return "completed";
  }

  /** The eval model over `dataset`: {loss (example-weighted mean), accuracy or null, outputs}. */
  async evaluate(dataset) {
    const inputs = {};
    for (const ref of this.manifest.trainable) inputs[ref.name] = this.current[ref.name];
    const all = Int32Array.from({ length: dataset.size }, (_, i) => i);
    const feeds = gather(this.ort, dataset, all);
    for (const name of this.manifest.eval_feed_order) inputs[name] = feeds[name];
    const out = await this.evalSession.run(inputs);
    const loss = Number(out[this.manifest.eval_outputs[0]].data[0]);
    const target = this.manifest.losses[0]?.target;
    const scores = this.manifest.eval_outputs.slice(1).map((n) => out[n]).find(
      (t) => t.dims.length === 2 && t.dims[0] === dataset.size,
    );
    let accuracy = null;
    if (scores && target && feeds[target]?.type === "int64") {
      const predicted = argmaxRows(scores.data, dataset.size, scores.dims[1]);
      const labels = feeds[target].data;
      let right = 0;
      for (let i = 0; i < dataset.size; i += 1) if (BigInt(predicted[i]) === labels[i]) right += 1;
      accuracy = right / dataset.size;
    }
    return { loss, accuracy, outputs: out };
  }

  /** The class index the model gives each row of `dataset` (its labels are not read). */
  async predict(dataset) {
    const { outputs } = await this.evaluate(dataset);
    const scores = this.manifest.eval_outputs.slice(1).map((n) => outputs[n]).find((t) => t.dims.length === 2);
    return { classes: argmaxRows(scores.data, dataset.size, scores.dims[1]), scores };
  }

  /** The trained tensors by "{layer}.{field}" (Float32Array and shape). */
  parameters() {
    return Object.fromEntries(
      this.manifest.trainable.map((ref) => [ref.name, { data: this.current[ref.name].data, shape: this.current[ref.name].dims }]),
    );
  }

  /** A portable state file of the current state, readable by `mlspec apply-state` and by resume. */
  checkpointBytes() {
    const tensors = new Map();
    for (const { input } of this.loop.carried) {
      const t = this.current[input];
      tensors.set(input, { dtype: "float32", shape: [...t.dims], data: t.data });
    }
    const tunable = Object.fromEntries(Object.keys(this.loop.hyperparameters).map((name) => [name, this.settings[name]]));
    tunable.learning_rate = this.rate(this.progress.epoch);
    const p = this.progress;
    return writeState(tensors, {
      step: p.step,
      hyperparameters: tunable,
      properties: {
        epoch: p.epoch,
        batches_done: p.batchesDone,
        epoch_loss_sum: p.epochLossSum,
        epoch_examples: p.epochExamples,
        epoch_losses: JSON.stringify(p.epochLosses),
        base_learning_rate: p.baseLearningRate,
      },
    });
  }
}
