// Drawings and picked images to the model's input: 64 values, 8x8 rows first, ink 1 and paper 0,
// the way scikit-learn's digits are (their 0..16 counts divided by 16).

const SIDE = 64; // drawn at 64x64, then each 8x8 block averaged into one cell

function averaged(source, sx, sy, sw, sh, invert) {
  const canvas = new OffscreenCanvas(SIDE, SIDE);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.fillStyle = invert ? "#fff" : "#000";
  ctx.fillRect(0, 0, SIDE, SIDE);
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(source, sx, sy, sw, sh, 0, 0, SIDE, SIDE);
  const { data } = ctx.getImageData(0, 0, SIDE, SIDE);
  const cells = new Float32Array(64);
  for (let y = 0; y < SIDE; y += 1) {
    for (let x = 0; x < SIDE; x += 1) {
      const at = 4 * (y * SIDE + x);
      const light = (0.299 * data[at] + 0.587 * data[at + 1] + 0.114 * data[at + 2]) / 255;
      cells[(y >> 3) * 8 + (x >> 3)] += (invert ? 1 - light : light) / 64;
    }
  }
  return Array.from(cells, (v) => Math.round(v * 1e6) / 1e6);
}

function meanLight(source, width, height) {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(source, 0, 0);
  const { data } = ctx.getImageData(0, 0, width, height);
  let sum = 0;
  for (let i = 0; i < data.length; i += 4) sum += data[i] + data[i + 1] + data[i + 2];
  return sum / (3 * 255 * (data.length / 4));
}

/** A drawing (light ink on a dark canvas): the ink's bounding box, made square with a margin. */
export function drawingPixels(canvas) {
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const { data, width, height } = ctx.getImageData(0, 0, canvas.width, canvas.height);
  let [left, top, right, bottom] = [width, height, -1, -1];
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      if (data[4 * (y * width + x)] > 40) {
        left = Math.min(left, x); right = Math.max(right, x);
        top = Math.min(top, y); bottom = Math.max(bottom, y);
      }
    }
  }
  if (right < 0) return null; // nothing drawn
  const side = Math.max(right - left, bottom - top) * 1.15 + 2;
  const cx = (left + right) / 2;
  const cy = (top + bottom) / 2;
  return averaged(canvas, cx - side / 2, cy - side / 2, side, side, false);
}

/** A picked image file, framed like the digits: dark ink on light paper is inverted. */
export async function filePixels(file) {
  const bitmap = await createImageBitmap(file);
  const invert = meanLight(bitmap, bitmap.width, bitmap.height) > 0.5;
  return averaged(bitmap, 0, 0, bitmap.width, bitmap.height, invert);
}

/** A 64-value example drawn large into `canvas` (for the list of examples). */
export function paint(canvas, pixels) {
  const ctx = canvas.getContext("2d");
  const cell = canvas.width / 8;
  pixels.forEach((v, i) => {
    const level = Math.round(255 * v);
    ctx.fillStyle = `rgb(${level},${level},${level})`;
    ctx.fillRect((i % 8) * cell, Math.floor(i / 8) * cell, cell, cell);
  });
}
