#!/usr/bin/env node
// Train portable artifacts in Node.js with onnxruntime-node, from the manifest alone.
//
//   node js/bin/train-node.mjs ARTIFACTS DATA.json --out STATE [--set NAME=VALUE ...]
//        [--checkpoint FILE [--resume]] [--stop-after-steps N] [--validation DATA.json]
//
// DATA.json: {"columns": {feed name: rows}} (rows as makeDataset takes them). Writes the final
// state (a portable state file, for `mlspec apply-state`) and prints one JSON line per epoch and
// a summary line with the steps per second.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-node";
import { FileCheckpoints } from "../src/checkpoints-node.mjs";
import { makeDataset, PortableTrainer } from "../src/index.mjs";

function parseValue(text) {
  if (text === "true" || text === "false") return text === "true";
  const number = Number(text);
  return Number.isNaN(number) ? text : number;
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      out: { type: "string" },
      set: { type: "string", multiple: true, default: [] },
      checkpoint: { type: "string" },
      resume: { type: "boolean", default: false },
      "stop-after-steps": { type: "string" },
      validation: { type: "string" },
    },
  });
  const [artifacts, dataPath] = positionals;
  if (!artifacts || !dataPath || !values.out) throw new Error("usage: train-node.mjs ARTIFACTS DATA.json --out STATE");
  const json = async (path) => JSON.parse(await readFile(path, "utf8"));
  const bytes = async (name) => new Uint8Array(await readFile(join(artifacts, name)));
  const loop = await json(join(artifacts, "loop.json"));
  const files = {
    manifest: await json(join(artifacts, "manifest.json")),
    loop,
    stepModel: await bytes(loop.step_model),
    evalModel: await bytes(loop.eval_model),
    state: await bytes(loop.state),
  };
  const overrides = Object.fromEntries(values.set.map((pair) => {
    const at = pair.indexOf("=");
    return [pair.slice(0, at), parseValue(pair.slice(at + 1))];
  }));
  const checkpoints = values.checkpoint ? new FileCheckpoints(values.checkpoint) : null;
  const checkpoint = values.resume && checkpoints ? await checkpoints.load() : null;
  const options = { overrides, checkpoint, sessionOptions: { intraOpNumThreads: 1 } };
  const trainer = await PortableTrainer.create(ort, files, options);
  const dataset = makeDataset(files.manifest, (await json(dataPath)).columns);
  const validation = values.validation ? makeDataset(files.manifest, (await json(values.validation)).columns) : null;
  const stopAfter = values["stop-after-steps"] ? Number(values["stop-after-steps"]) : Infinity;
  const started = trainer.progress.step;
  const clock = performance.now();
  const status = await trainer.train(dataset, {
    validation,
    checkpoints,
    shouldStop: () => trainer.progress.step >= stopAfter,
    onEpoch: (e) => console.log(JSON.stringify({ event: "epoch", ...e })),
  });
  const seconds = (performance.now() - clock) / 1000;
  await writeFile(values.out, trainer.checkpointBytes());
  const steps = trainer.progress.step - started;
  console.log(JSON.stringify({ event: "done", status, steps, seconds, steps_per_second: steps / seconds }));
}

main().catch((error) => {
  console.error(`train-node: ${error.message}`);
  process.exit(1);
});
