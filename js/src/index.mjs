// mlspec-train: drive mlspec's portable training artifacts with stock ONNX Runtime.
export { PortableTrainer, DivergedError } from "./trainer.mjs";
export { makeDataset, gather } from "./data.mjs";
export { resolveHyperparameters, checkValue, HyperparameterError } from "./hyper.mjs";
export { epochOrder, epochBatches, batchesPerEpoch, generator } from "./order.mjs";
export { scheduledRate } from "./schedule.mjs";
export { readState, writeState, StateFileError } from "./state.mjs";
