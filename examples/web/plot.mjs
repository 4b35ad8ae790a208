// A small line plot on a canvas: the batch losses as they arrive, epoch ends marked.

export class LossPlot {
  constructor(canvas) {
    this.canvas = canvas;
    this.losses = [];
    this.epochEnds = [];
  }

  reset() {
    this.losses = [];
    this.epochEnds = [];
    this.draw();
  }

  add(loss) {
    this.losses.push(loss);
    this.draw();
  }

  endEpoch() {
    this.epochEnds.push(this.losses.length);
  }

  draw() {
    const { canvas, losses } = this;
    const ctx = canvas.getContext("2d");
    const [w, h, pad] = [canvas.width, canvas.height, 28];
    ctx.clearRect(0, 0, w, h);
    ctx.strokeStyle = "#999";
    ctx.strokeRect(pad, 4, w - pad - 4, h - pad - 4);
    ctx.fillStyle = "#333";
    ctx.font = "11px sans-serif";
    ctx.fillText("loss per batch", pad + 6, 16);
    if (losses.length < 2) return;
    const top = Math.max(...losses);
    const x = (i) => pad + ((w - pad - 8) * i) / (losses.length - 1);
    const y = (v) => h - pad - ((h - pad - 12) * v) / top;
    ctx.fillText(top.toFixed(2), 2, 14);
    ctx.fillText("0", 16, h - pad);
    ctx.fillText(`${losses.length} steps`, w - 70, h - 10);
    ctx.strokeStyle = "#ddd";
    for (const end of this.epochEnds) {
      ctx.beginPath(); ctx.moveTo(x(end - 1), 4); ctx.lineTo(x(end - 1), h - pad); ctx.stroke();
    }
    ctx.strokeStyle = "#1565c0";
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    losses.forEach((v, i) => (i ? ctx.lineTo(x(i), y(v)) : ctx.moveTo(x(i), y(v))));
    ctx.stroke();
  }
}
