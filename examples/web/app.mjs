// The page: examples in (drawing pad, image files), training in worker.mjs, the loss plot and the
// per-epoch held-out table, predictions, and the state file download. `window.demo` exposes
// what a test needs to check the run (the exact training set, losses, accuracies, timings).
import { LossPlot } from "./plot.mjs";
import { drawingPixels, filePixels, paint } from "./pixels.mjs";

const $ = (id) => document.getElementById(id);
const worker = new Worker("worker.mjs", { type: "module" });
const plot = new LossPlot($("plot"));
const user = []; // {image, label}: the examples the user added, in order
let data = null; // examples.json: replay examples of the old classes and the held-out set
let labels = [];

const demo = {
  loadSeconds: null,
  restoredSteps: 0,
  settings: null,
  losses: [],
  epochs: [],
  trained: null,
  columns: null,
  error: null,
  prediction: null,
};
window.demo = demo;

function status(text) {
  $("status").textContent = text;
}

function showCounts() {
  const counts = {};
  for (const e of user) counts[e.label] = (counts[e.label] ?? 0) + 1;
  const text = Object.entries(counts).map(([label, n]) => `${label}: ${n}`).join(", ");
  $("counts").textContent = user.length ? `your examples: ${text}` : "no examples yet";
  $("train").disabled = !user.length;
}

function addExample(image, label) {
  user.push({ image, label });
  const thumb = document.createElement("canvas");
  thumb.width = thumb.height = 8;
  thumb.title = label;
  paint(thumb, image);
  $("thumbs").append(thumb);
  showCounts();
}

// The drawing pad: white strokes on black, like the digits' ink on paper after inversion.
function setUpPad() {
  const pad = $("pad");
  const ctx = pad.getContext("2d");
  const clear = () => { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, pad.width, pad.height); };
  clear();
  let drawing = false;
  const point = (e) => {
    const box = pad.getBoundingClientRect();
    return [((e.clientX - box.left) * pad.width) / box.width, ((e.clientY - box.top) * pad.height) / box.height];
  };
  pad.addEventListener("pointerdown", (e) => {
    drawing = true;
    pad.setPointerCapture(e.pointerId);
    ctx.beginPath();
    ctx.moveTo(...point(e));
  });
  pad.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 16;
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.lineTo(...point(e));
    ctx.stroke();
  });
  pad.addEventListener("pointerup", () => { drawing = false; });
  $("clear").onclick = clear;
  $("add").onclick = () => {
    const image = drawingPixels(pad);
    if (!image) return status("draw something first");
    addExample(image, $("class").value);
    clear();
  };
  $("predict").onclick = () => {
    const image = drawingPixels(pad);
    if (!image) return status("draw something to predict first");
    worker.postMessage({ type: "predict", image });
  };
}

$("files").onchange = async (event) => {
  for (const file of event.target.files) addExample(await filePixels(file), $("class").value);
  event.target.value = "";
};

$("train").onclick = () => {
  const rows = [...user, ...data.replay.image.map((image, i) => ({ image, label: data.replay.label[i] }))];
  demo.columns = { image: rows.map((r) => r.image), label: rows.map((r) => r.label) };
  const overrides = { epochs: Number($("epochs").value), learning_rate: Number($("lr").value) };
  demo.losses = [];
  demo.epochs = [];
  demo.trained = null;
  plot.reset();
  $("epochs-table").tBodies[0].replaceChildren();
  for (const id of ["train", "predict", "save"]) $(id).disabled = true;
  status(`training on ${rows.length} examples (${user.length} yours, ${rows.length - user.length} replayed)…`);
  worker.postMessage({ type: "train", columns: demo.columns, heldout: data.heldout, overrides });
};

$("save").onclick = () => worker.postMessage({ type: "save" });

const handlers = {
  ready(m) {
    labels = m.labels;
    demo.loadSeconds = performance.now() / 1000;
    demo.restoredSteps = m.restoredSteps;
    demo.settings = m.settings;
    const fresh = labels.filter((l) => l.startsWith("user"));
    $("class").replaceChildren(...fresh.map((l) => new Option(`${l} (new)`, l)), ...labels.filter((l) => !fresh.includes(l)).map((l) => new Option(l, l)));
    $("epochs").value = m.settings.epochs;
    $("lr").value = m.settings.learning_rate;
    $("predict").disabled = $("save").disabled = false;
    const restored = m.restoredSteps ? `; restored ${m.restoredSteps} trained steps from IndexedDB` : "";
    status(`ready in ${demo.loadSeconds.toFixed(2)} s: classes ${labels.join(", ")}${restored}`);
    showCounts();
  },
  batch(m) {
    demo.losses.push(m.loss);
    plot.add(m.loss);
  },
  epoch(m) {
    demo.epochs.push(m);
    plot.endEpoch();
    const row = $("epochs-table").tBodies[0].insertRow();
    for (const v of [m.epoch + 1, m.loss.toFixed(4), m.validationLoss.toFixed(4), `${(100 * m.validationAccuracy).toFixed(1)}%`]) {
      row.insertCell().textContent = v;
    }
    status(`epoch ${m.epoch + 1}: held-out accuracy ${(100 * m.validationAccuracy).toFixed(1)}%`);
  },
  trained(m) {
    demo.trained = { steps: m.steps, seconds: m.seconds, stepsPerSecond: m.steps / m.seconds };
    demo.settings = m.settings;
    for (const id of ["train", "predict", "save"]) $(id).disabled = false;
    status(`trained: ${m.steps} steps in ${m.seconds.toFixed(2)} s (${(m.steps / m.seconds).toFixed(0)} steps/s); checkpoint kept in IndexedDB`);
  },
  prediction(m) {
    demo.prediction = m;
    $("prediction").textContent = `${m.label} (${(100 * m.probability).toFixed(1)}%)`;
  },
  state(m) {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([m.bytes], { type: "application/octet-stream" }));
    link.download = "trained.ckpt";
    link.click();
    URL.revokeObjectURL(link.href);
  },
  error(m) {
    demo.error = m.message;
    $("train").disabled = !user.length;
    status(`error: ${m.message}`);
  },
};
worker.onmessage = ({ data: message }) => handlers[message.type](message);

setUpPad();
data = await (await fetch("examples.json")).json();
worker.postMessage({ type: "init" });
