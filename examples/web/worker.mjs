// The Web Worker that trains: stock onnxruntime-web (WebAssembly, one thread: a plain file server
// cannot send the headers that shared memory needs) runs the portable step model through
// lib/trainer.mjs, so the page stays responsive while it trains.
//
// Messages in:  {type: "init"}, {type: "train", columns, heldout, overrides},
//               {type: "predict", image}, {type: "save"}
// Messages out: {type: "ready", labels, seconds, restoredSteps}, {type: "batch", ...},
//               {type: "epoch", ...}, {type: "trained", steps, seconds}, {type: "prediction", ...},
//               {type: "state", bytes}, {type: "error", message}
import * as ort from "./ort/ort.wasm.min.mjs";
import { PortableTrainer, makeDataset } from "./lib/index.mjs";
import { IndexedDBCheckpoints } from "./lib/checkpoints-idb.mjs";

ort.env.wasm.numThreads = 1;
ort.env.wasm.wasmPaths = new URL("./ort/", import.meta.url).href;

const checkpoints = new IndexedDBCheckpoints("digits-web");
let files = null;
let trainer = null;

async function fetched(name, kind) {
  const response = await fetch(`artifacts/${name}`);
  if (!response.ok) throw new Error(`artifacts/${name}: HTTP ${response.status}`);
  return kind === "json" ? response.json() : new Uint8Array(await response.arrayBuffer());
}

async function init() {
  const started = performance.now();
  const [manifest, loop] = await Promise.all([fetched("manifest.json", "json"), fetched("loop.json", "json")]);
  const [stepModel, evalModel, state] = await Promise.all(
    [loop.step_model, loop.eval_model, loop.state].map((name) => fetched(name, "bytes")),
  );
  files = { manifest, loop, stepModel, evalModel, state };
  const saved = await checkpoints.load();
  trainer = await PortableTrainer.create(ort, files, { checkpoint: saved });
  const seconds = (performance.now() - started) / 1000;
  postMessage({ type: "ready", labels: manifest.class_labels, seconds, restoredSteps: trainer.progress.step, settings: trainer.settings });
}

async function train({ columns, heldout, overrides }) {
  await checkpoints.clear();
  trainer = await PortableTrainer.create(ort, files, { overrides });
  const dataset = makeDataset(files.manifest, columns);
  const validation = makeDataset(files.manifest, heldout);
  const started = performance.now();
  await trainer.train(dataset, {
    validation,
    checkpoints,
    onBatch: (b) => postMessage({ type: "batch", ...b }),
    onEpoch: (e) => postMessage({ type: "epoch", ...e }),
  });
  const seconds = (performance.now() - started) / 1000;
  postMessage({ type: "trained", steps: trainer.progress.step, seconds, settings: trainer.settings });
}

async function predict({ image }) {
  const labels = files.manifest.class_labels;
  const rows = { image: [image], label: [labels[0]] };
  const { classes, scores } = await trainer.predict(makeDataset(files.manifest, rows));
  postMessage({ type: "prediction", label: labels[classes[0]], probability: scores.data[classes[0]] });
}

const handlers = {
  init,
  train,
  predict,
  save: async () => {
    const bytes = trainer.checkpointBytes();
    postMessage({ type: "state", bytes }, [bytes.buffer]);
  },
};

onmessage = async ({ data }) => {
  try {
    await handlers[data.type](data);
  } catch (error) {
    postMessage({ type: "error", message: error.message });
  }
};
