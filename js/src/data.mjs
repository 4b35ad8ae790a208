// Examples in memory as the step model wants them: one flat typed array per feed, rows first.

/** A dataset {size, feeds: {name: {dtype, shape, data}}} from plain columns.
 *
 * `columns` maps every name of the manifest's `feed_order` to an array of rows (each row a
 * number, an array of numbers, or a label). Targets listed in `label_mapping` are mapped to
 * their class index; an unknown label is refused by name with the labels the model knows.
 */
export function makeDataset(manifest, columns) {
  const feeds = {};
  let size = null;
  for (const name of manifest.feed_order) {
    const rows = columns[name];
    if (!rows) throw new Error(`data: no column ${JSON.stringify(name)}; the model feeds: ${manifest.feed_order.join(", ")}`);
    if (size !== null && rows.length !== size) {
      throw new Error(`data: column ${JSON.stringify(name)} has ${rows.length} rows, the others ${size}`);
    }
    size = rows.length;
    const feature = [...manifest.inputs, ...manifest.training_inputs].find((f) => f.name === name);
    const mapping = manifest.label_mapping[name];
    if (mapping || feature?.dtype === "int64") {
      const data = new BigInt64Array(rows.length);
      rows.forEach((label, i) => {
        const index = mapping ? mapping.labels.indexOf(label) : Number(label);
        if (index < 0 || !Number.isInteger(index)) {
          throw new Error(`data: label ${JSON.stringify(label)} of column ${JSON.stringify(name)} is not one of ${(mapping?.labels ?? []).join(", ")}`);
        }
        data[i] = BigInt(index);
      });
      feeds[name] = { dtype: "int64", shape: [rows.length], data };
    } else {
      const width = rows.length ? [rows[0]].flat(Infinity).length : 0;
      const data = new Float32Array(rows.length * width);
      rows.forEach((row, i) => data.set([row].flat(Infinity), i * width));
      const inner = (feature?.shape ?? ["batch", width]).slice(1).map((d) => (typeof d === "number" ? d : width));
      feeds[name] = { dtype: "float32", shape: [rows.length, ...inner], data };
    }
  }
  return { size: size ?? 0, feeds };
}

/** The rows `indices` of every feed, as ort.Tensors. */
export function gather(ort, dataset, indices) {
  const out = {};
  for (const [name, feed] of Object.entries(dataset.feeds)) {
    const width = feed.data.length / Math.max(dataset.size, 1);
    const data = new feed.data.constructor(indices.length * width);
    for (let k = 0; k < indices.length; k += 1) {
      const start = indices[k] * width;
      data.set(feed.data.subarray(start, start + width), k * width);
    }
    out[name] = new ort.Tensor(feed.dtype, data, [indices.length, ...feed.shape.slice(1)]);
  }
  return out;
}
