// The drawing pad: mouse, finger or pen strokes on a canvas, undo, and the PNG export the model reads.

// The canvas is exported 280 px high, whatever its size on screen, and as wide as its width and height
// attributes say: 280x280 on the Draw page, 840x280 (3:1) on the Number page. The pen's width is in these
// pixels, so a stroke is as thick against a digit on both.
const EXPORT_HEIGHT = 280;

export class DrawingPad {
  constructor(canvas, { onStrokeEnd, onChange }) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    // Read before resize() sets the backing store's size: the export keeps the shape the page gave.
    this.exportWidth = Math.round((EXPORT_HEIGHT * canvas.width) / canvas.height);
    this.strokes = []; // each {width, points: [[x, y], ...]} in logical exportWidth x 280 coordinates
    this.current = null;
    this.pointerId = null;
    this.width = 22;
    this.onStrokeEnd = onStrokeEnd;
    this.onChange = onChange;

    canvas.addEventListener("pointerdown", (e) => this.down(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    canvas.addEventListener("pointerup", (e) => this.up(e));
    canvas.addEventListener("pointercancel", (e) => this.up(e));
    canvas.addEventListener("contextmenu", (e) => e.preventDefault());
    new ResizeObserver(() => this.resize()).observe(canvas);
    this.resize();
  }

  resize() {
    // A crisp backing store on high-DPI screens: device pixels, drawn in logical coordinates.
    const width = this.canvas.clientWidth; // the content box, without the border
    if (!width) return;
    const dpr = window.devicePixelRatio || 1;
    const px = Math.round(width * dpr);
    const py = Math.round((px * EXPORT_HEIGHT) / this.exportWidth);
    if (this.canvas.width !== px || this.canvas.height !== py) {
      this.canvas.width = px;
      this.canvas.height = py;
    }
    this.redraw();
  }

  point(e) {
    const c = this.canvas;
    const rect = c.getBoundingClientRect();
    const scale = this.exportWidth / c.clientWidth;
    return [(e.clientX - rect.left - c.clientLeft) * scale, (e.clientY - rect.top - c.clientTop) * scale];
  }

  down(e) {
    if (this.pointerId !== null) return; // one pointer at a time (ignore a second finger)
    if (e.pointerType === "mouse" && e.button !== 0) return;
    e.preventDefault();
    this.pointerId = e.pointerId;
    this.canvas.setPointerCapture(e.pointerId);
    this.current = { width: this.width, points: [this.point(e)] };
    this.strokes.push(this.current);
    this.redraw();
    this.onChange();
  }

  move(e) {
    if (e.pointerId !== this.pointerId || !this.current) return;
    e.preventDefault();
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const ev of events.length ? events : [e]) this.current.points.push(this.point(ev));
    this.redraw();
  }

  up(e) {
    if (e.pointerId !== this.pointerId) return;
    if (this.canvas.hasPointerCapture(e.pointerId)) this.canvas.releasePointerCapture(e.pointerId);
    this.pointerId = null;
    this.current = null;
    this.onStrokeEnd();
  }

  static paint(ctx, strokes, color) {
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const { width, points } of strokes) {
      ctx.lineWidth = width;
      if (points.length === 1) {
        ctx.beginPath();
        ctx.arc(points[0][0], points[0][1], width / 2, 0, Math.PI * 2);
        ctx.fill();
        continue;
      }
      ctx.beginPath();
      ctx.moveTo(points[0][0], points[0][1]);
      for (let i = 1; i < points.length; i++) ctx.lineTo(points[i][0], points[i][1]);
      ctx.stroke();
    }
  }

  redraw() {
    const { ctx, canvas } = this;
    const scale = canvas.width / this.exportWidth;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.setTransform(scale, 0, 0, scale, 0, 0);
    DrawingPad.paint(ctx, this.strokes, getComputedStyle(canvas).color || "#111");
  }

  undo() {
    this.strokes.pop();
    this.redraw();
    this.onChange();
  }

  clear() {
    this.strokes = [];
    this.current = null;
    this.redraw();
    this.onChange();
  }

  isEmpty() {
    return this.strokes.length === 0;
  }

  // Opaque black strokes on a transparent exportWidth x 280 background, as a PNG blob.
  toBlob() {
    const off = document.createElement("canvas");
    off.width = this.exportWidth;
    off.height = EXPORT_HEIGHT;
    DrawingPad.paint(off.getContext("2d"), this.strokes, "#000");
    return new Promise((resolve) => off.toBlob(resolve, "image/png"));
  }
}
