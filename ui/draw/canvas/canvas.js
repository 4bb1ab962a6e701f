// The Draw page's canvas: the student draws, and every listed model answers in the browser while the pen moves.
//
// Streamlit (custom components v2) calls the default export with {data, parentElement, setStateValue}.
// `data` carries the models as lab.analysis.export describes them (a list of operations with float32 weights in
// base64). On every pointer move the drawing is turned into the 28x28 image exactly as
// lab.analysis.canvas.to_mnist does it, each model runs forward here, and the answer, the network's activations
// and the saliency overlay are redrawn: no round trip to the server. When a stroke ends, the server gets the
// drawing (a PNG) through the state value "drawing", to keep it, show it and compare the models there too.
//
// Plain JavaScript, no dependencies, no build step. The numerical parts (toMnist, forward, saliency) are exported
// on their own so that tests run them on given pixels and compare them with Python's.

// ----------------------------------------------------------------- numbers
const LUMA = [0.299, 0.587, 0.114]; // ITU-R 601, as Pillow's "L" and canvas.py's _LUMA
const BOX_SIDE = 20; // MNIST's digits fit a 20x20 box ...
const MNIST_CENTER = 14.0; // ... whose centre of mass goes to (14, 14)
const SIDE = 28;
const THRESHOLD = 0.2; // to_mnist's defaults for a canvas
const MIN_EXTENT = 0.1;
const SPECK_FRACTION = 0.05;
const MIN_INK_PIXELS = 10;
const DOT_RATIO = 1.5;
const SELU_ALPHA = 1.6732632423543772848170429916717;
const SELU_SCALE = 1.0507009873554804934193349852946;
const LEAKY_SLOPE = 0.2; // keras.activations.leaky_relu's default
const OTHERS_BUDGET_MS = 6; // per frame, for the models other than the chosen one (the table)

const f32 = Math.fround;

/** Python's round(): halves go to the even neighbour (to_mnist sizes its 20x20 box with it). */
function pyRound(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Ink of RGBA pixels: luminance times alpha, in float32 as NumPy computes it. */
export function canvasInk(rgba, width, height) {
  const ink = new Float32Array(width * height);
  for (let i = 0, p = 0; i < ink.length; i++, p += 4) {
    const lum = f32(f32(f32(rgba[p] / 255) * LUMA[0]) + f32(f32(rgba[p + 1] / 255) * LUMA[1]));
    ink[i] = f32(f32(lum + f32(f32(rgba[p + 2] / 255) * LUMA[2])) * f32(rgba[p + 3] / 255));
  }
  return ink;
}

/** The mask without separate 8-connected blobs holding under SPECK_FRACTION of the ink (canvas._drop_specks). */
function dropSpecks(mask, w, h) {
  const labels = new Int32Array(w * h);
  const sizes = [0];
  const stack = [];
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || labels[start]) continue;
    const label = sizes.length;
    let size = 0;
    labels[start] = label;
    stack.push(start);
    while (stack.length) {
      const i = stack.pop();
      size++;
      const y = (i / w) | 0;
      const x = i - y * w;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
          const j = yy * w + xx;
          if (mask[j] && !labels[j]) {
            labels[j] = label;
            stack.push(j);
          }
        }
      }
    }
    sizes.push(size);
  }
  if (sizes.length <= 2) return mask;
  const total = sizes.reduce((a, b) => a + b, 0);
  let largest = 1;
  for (let l = 1; l < sizes.length; l++) if (sizes[l] > sizes[largest]) largest = l;
  const keep = sizes.map((s, l) => l > 0 && (s >= SPECK_FRACTION * total || l === largest));
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) out[i] = labels[i] && keep[labels[i]] ? 1 : 0;
  return out;
}

const FAR = 1e20; // "infinitely" far: finite, so that the parabola intersections below stay numbers

/** 1-D squared distance transform (Felzenszwalb and Huttenlocher) of f: 0 on background, FAR on ink. */
function dt1d(f, n) {
  const d = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  let k = 0;
  z[0] = -Infinity;
  z[1] = Infinity;
  for (let q = 1; q < n; q++) {
    let s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
    while (s <= z[k]) {
      k--;
      s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1] < q) k++;
    d[q] = (q - v[k]) * (q - v[k]) + f[v[k]];
  }
  return d;
}

/** The largest Euclidean distance from ink to background in a mask padded by one pixel (the widest stroke / 2). */
function maxInkDistance(mask, w, h) {
  const pw = w + 2;
  const ph = h + 2;
  const grid = new Float64Array(pw * ph);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) grid[(y + 1) * pw + x + 1] = mask[y * w + x] ? FAR : 0;
  const col = new Float64Array(ph);
  for (let x = 0; x < pw; x++) {
    for (let y = 0; y < ph; y++) col[y] = grid[y * pw + x];
    const d = dt1d(col, ph);
    for (let y = 0; y < ph; y++) grid[y * pw + x] = d[y];
  }
  let best = 0;
  const row = new Float64Array(pw);
  for (let y = 0; y < ph; y++) {
    for (let x = 0; x < pw; x++) row[x] = grid[y * pw + x];
    const d = dt1d(row, pw);
    for (let x = 0; x < pw; x++) if (d[x] > best) best = d[x];
  }
  return Math.sqrt(best);
}

/** Pillow's resampling coefficients along one axis for the BOX filter (shrinking only, as to_mnist uses it). */
function boxCoefficients(inSize, outSize) {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1.0);
  const support = 0.5 * filterscale;
  const out = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1.0 / filterscale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
    const k = [];
    let ww = 0;
    for (let x = xmin; x < xmax; x++) {
      const t = (x - center + 0.5) * ss;
      const weight = t > -0.5 && t <= 0.5 ? 1.0 : 0.0;
      k.push(weight);
      ww += weight;
    }
    out.push({ xmin, k: k.map((v) => (ww !== 0 ? v / ww : v)) });
  }
  return out;
}

/** Pillow's float ("F") BOX resize of an (h, w) image to (oh, ow): horizontal pass, then vertical, float32 between. */
function resizeBox(src, h, w, oh, ow) {
  const horiz = boxCoefficients(w, ow);
  const vert = boxCoefficients(h, oh);
  const tmp = new Float32Array(h * ow);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < ow; x++) {
      const { xmin, k } = horiz[x];
      let s = 0;
      for (let i = 0; i < k.length; i++) s += src[y * w + xmin + i] * k[i];
      tmp[y * ow + x] = s;
    }
  }
  const out = new Float32Array(oh * ow);
  for (let y = 0; y < oh; y++) {
    const { xmin, k } = vert[y];
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let i = 0; i < k.length; i++) s += tmp[(xmin + i) * ow + x] * k[i];
      out[y * ow + x] = s;
    }
  }
  return out;
}

/** Clip to [0, 1] and divide by the brightest pixel (canvas._normalise). */
function normalise(image) {
  let peak = 0;
  for (let i = 0; i < image.length; i++) {
    image[i] = Math.min(Math.max(image[i], 0), 1);
    if (image[i] > peak) peak = image[i];
  }
  if (peak > 0) for (let i = 0; i < image.length; i++) image[i] = f32(image[i] / peak);
  return image;
}

/**
 * A drawing as the 28x28 image a model receives: lab.analysis.canvas.to_mnist, step for step.
 *
 * Returns null for an empty canvas or a dot, else {image: Float32Array(784), place}, where `place` maps the 28x28
 * image back onto the canvas (for the saliency overlay): canvas x = place.x + column * place.scaleX, and so for y.
 */
export function toMnist(rgba, width, height, center = true) {
  const ink = canvasInk(rgba, width, height);
  let mask = new Uint8Array(ink.length);
  for (let i = 0; i < ink.length; i++) mask[i] = ink[i] > THRESHOLD ? 1 : 0;
  mask = dropSpecks(mask, width, height);
  let count = 0;
  let top = height;
  let bottom = -1;
  let left = width;
  let right = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!mask[y * width + x]) continue;
      count++;
      if (y < top) top = y;
      if (y > bottom) bottom = y;
      if (x < left) left = x;
      if (x > right) right = x;
    }
  }
  if (count < Math.max(MIN_INK_PIXELS, 0.0005 * ink.length)) return null;
  bottom += 1;
  right += 1;
  const h = bottom - top;
  const w = right - left;
  const extent = Math.max(h, w);
  if (extent < MIN_EXTENT * Math.min(width, height)) return null;
  const crop = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) crop[y * w + x] = mask[(top + y) * width + left + x];
  if (extent < DOT_RATIO * 2.0 * maxInkDistance(crop, w, h)) return null;
  // Keep the faint anti-aliased rim around the kept strokes: the mask dilated twice by the 4-neighbour cross.
  let grown = mask;
  for (let it = 0; it < 2; it++) {
    const next = new Uint8Array(grown.length);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        next[i] =
          grown[i] ||
          (x > 0 && grown[i - 1]) ||
          (x < width - 1 && grown[i + 1]) ||
          (y > 0 && grown[i - width]) ||
          (y < height - 1 && grown[i + width])
            ? 1
            : 0;
      }
    }
    grown = next;
  }
  for (let i = 0; i < ink.length; i++) if (!grown[i]) ink[i] = 0;
  const out = new Float32Array(SIDE * SIDE);
  if (!center) {
    // The whole canvas, padded to a square (centred) and shrunk to 28x28.
    const side = Math.max(width, height);
    const square = new Float32Array(side * side);
    const oy = ((side - height) / 2) | 0;
    const ox = ((side - width) / 2) | 0;
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) square[(y + oy) * side + x + ox] = ink[y * width + x];
    out.set(normalise(resizeBox(square, side, side, SIDE, SIDE)));
    const s = side / SIDE;
    return { image: out, place: { x: -ox, y: -oy, scaleX: s, scaleY: s } };
  }
  const box = new Float32Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) box[y * w + x] = ink[(top + y) * width + left + x];
  const factor = BOX_SIDE / extent;
  const sh = Math.max(1, pyRound(h * factor));
  const sw = Math.max(1, pyRound(w * factor));
  const small = normalise(resizeBox(box, h, w, sh, sw));
  // Whole-pixel shift putting the centre of mass within 0.5 px of (14, 14).
  let mass = 0;
  let my = 0;
  let mx = 0;
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < sw; x++) {
      const v = small[y * sw + x];
      mass += v;
      my += y * v;
      mx += x * v;
    }
  }
  const py = Math.floor(MNIST_CENTER - my / mass + 0.5);
  const px = Math.floor(MNIST_CENTER - mx / mass + 0.5);
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < sw; x++) {
      const ty = y + py;
      const tx = x + px;
      if (ty >= 0 && ty < SIDE && tx >= 0 && tx < SIDE) out[ty * SIDE + tx] = small[y * sw + x];
    }
  }
  const scaleX = w / sw;
  const scaleY = h / sh;
  return { image: out, place: { x: left - px * scaleX, y: top - py * scaleY, scaleX, scaleY } };
}

// ------------------------------------------------------------------ models
/** Float32Array of the base64 little-endian float32 values lab.analysis.export.encode wrote. */
function decodeFloats(text) {
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  return new Float32Array(bytes.buffer);
}

const decoded = new Map(); // run key -> ready model: decoded once per page, whatever Streamlit re-sends

/** A described model with its weights decoded (cached under `key`). */
export function prepareModel(description, key = null) {
  if (key !== null && decoded.has(key)) return decoded.get(key);
  const ops = description.ops.map((op) => {
    const ready = { ...op };
    for (const field of ["w", "b", "mean"]) if (typeof op[field] === "string") ready[field] = decodeFloats(op[field]);
    return ready;
  });
  const model = { run: description.run, ops };
  if (key !== null) decoded.set(key, model);
  return model;
}

function activate(z, name) {
  switch (name) {
    case "linear":
      return;
    case "relu":
      for (let i = 0; i < z.length; i++) if (z[i] < 0) z[i] = 0;
      return;
    case "sigmoid":
      for (let i = 0; i < z.length; i++) z[i] = 1 / (1 + Math.exp(-z[i]));
      return;
    case "tanh":
      for (let i = 0; i < z.length; i++) z[i] = Math.tanh(z[i]);
      return;
    case "elu":
      for (let i = 0; i < z.length; i++) if (z[i] <= 0) z[i] = Math.expm1(z[i]);
      return;
    case "selu":
      for (let i = 0; i < z.length; i++) z[i] = SELU_SCALE * (z[i] > 0 ? z[i] : SELU_ALPHA * Math.expm1(z[i]));
      return;
    case "leaky_relu":
      for (let i = 0; i < z.length; i++) if (z[i] <= 0) z[i] *= LEAKY_SLOPE;
      return;
    case "softplus":
      for (let i = 0; i < z.length; i++) z[i] = Math.max(z[i], 0) + Math.log1p(Math.exp(-Math.abs(z[i])));
      return;
    case "softmax": {
      let peak = -Infinity;
      for (const v of z) peak = Math.max(peak, v);
      let sum = 0;
      for (let i = 0; i < z.length; i++) sum += z[i] = Math.exp(z[i] - peak);
      for (let i = 0; i < z.length; i++) z[i] /= sum;
      return;
    }
    default:
      throw new Error(`Unknown activation ${name}`);
  }
}

/** d activation / d pre-activation, from the pre-activation z and the output a (for saliency). */
function activationSlope(name, z, a) {
  switch (name) {
    case "linear":
      return 1;
    case "relu":
      return z > 0 ? 1 : 0;
    case "sigmoid":
      return a * (1 - a);
    case "tanh":
      return 1 - a * a;
    case "elu":
      return z > 0 ? 1 : a + 1;
    case "selu":
      return z > 0 ? SELU_SCALE : a + SELU_SCALE * SELU_ALPHA;
    case "leaky_relu":
      return z > 0 ? 1 : LEAKY_SLOPE;
    case "softplus":
      return 1 / (1 + Math.exp(-z));
    default:
      return 1;
  }
}

function samePadding(size, k, stride) {
  const out = Math.ceil(size / stride);
  return Math.floor(Math.max((out - 1) * stride + k - size, 0) / 2);
}

function conv(x, op) {
  const [h, w, cin] = op.inShape;
  const [oh, ow, cout] = op.outShape;
  const { k, stride } = op;
  const top = op.pad === "same" ? samePadding(h, k, stride) : 0;
  const left = op.pad === "same" ? samePadding(w, k, stride) : 0;
  const out = new Float64Array(oh * ow * cout);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      const o = (oy * ow + ox) * cout;
      for (let c = 0; c < cout; c++) out[o + c] = op.b[c];
      for (let dy = 0; dy < k; dy++) {
        const y = oy * stride + dy - top;
        if (y < 0 || y >= h) continue;
        for (let dx = 0; dx < k; dx++) {
          const xx = ox * stride + dx - left;
          if (xx < 0 || xx >= w) continue;
          const xi = (y * w + xx) * cin;
          const wi = (dy * k + dx) * cin * cout;
          for (let ci = 0; ci < cin; ci++) {
            const v = x[xi + ci];
            if (v === 0) continue; // relu and empty canvas: most inputs are 0
            const row = wi + ci * cout;
            for (let c = 0; c < cout; c++) out[o + c] += v * op.w[row + c];
          }
        }
      }
    }
  }
  return out;
}

function pool(x, op) {
  const [, w, c] = op.inShape;
  const [oh, ow] = op.outShape;
  const p = op.size;
  const out = new Float64Array(oh * ow * c).fill(-Infinity);
  const arg = new Int32Array(oh * ow * c);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      for (let dy = 0; dy < p; dy++) {
        for (let dx = 0; dx < p; dx++) {
          const i = ((oy * p + dy) * w + ox * p + dx) * c;
          const o = (oy * ow + ox) * c;
          for (let ch = 0; ch < c; ch++) {
            if (x[i + ch] > out[o + ch]) {
              out[o + ch] = x[i + ch];
              arg[o + ch] = i + ch;
            }
          }
        }
      }
    }
  }
  return { out, arg };
}

function dense(x, op) {
  const { nin, nout } = op;
  const out = Float64Array.from(op.b);
  for (let i = 0; i < nin; i++) {
    const v = x[i];
    if (v === 0) continue;
    const row = i * nout;
    for (let j = 0; j < nout; j++) out[j] += v * op.w[row + j];
  }
  return out;
}

/**
 * A prepared model on one 28x28 image in [0, 1]: lab.analysis.export.forward in JavaScript.
 *
 * Returns {probs, trace}: the ten probabilities and, per operation, what saliency and the network view need
 * (its input, its pre-activation and its output).
 */
export function forward(model, image) {
  let x = Float64Array.from(image);
  const trace = [];
  for (const op of model.ops) {
    const input = x;
    let z = null;
    let extra = null;
    if (op.op === "sub") {
      x = x.map((v, i) => v - op.mean[i]);
    } else if (op.op === "scale") {
      x = x.map((v) => v * op.factor);
    } else if (op.op === "dense" || op.op === "conv") {
      z = op.op === "dense" ? dense(x, op) : conv(x, op);
      x = Float64Array.from(z);
      activate(x, op.act);
      if (op.normalise) {
        const sum = x.reduce((a, b) => a + b, 0);
        for (let i = 0; i < x.length; i++) x[i] /= Math.max(sum, 1e-12);
      }
    } else if (op.op === "pool") {
      const pooled = pool(x, op);
      x = pooled.out;
      extra = pooled.arg;
    } else {
      throw new Error(`Unknown operation ${op.op}`);
    }
    trace.push({ op, input, z, out: x, extra });
  }
  return { probs: x, trace };
}

/**
 * Gradient times input: how much each of the 784 pixels pushes the score of `digit` (the output layer's input to
 * its softmax or sigmoid) up (positive) or down (negative). Backpropagates through the trace forward() kept.
 */
export function saliency(trace, digit, image) {
  let grad = null;
  for (let t = trace.length - 1; t >= 0; t--) {
    const { op, input, z, out, extra } = trace[t];
    if (t === trace.length - 1) {
      // The output layer: start from its pre-activation score for `digit`.
      grad = new Float64Array(op.nin);
      for (let i = 0; i < op.nin; i++) grad[i] = op.w[i * op.nout + digit];
      continue;
    }
    if (op.op === "dense") {
      const g = new Float64Array(op.nin);
      for (let j = 0; j < op.nout; j++) {
        const d = grad[j] * activationSlope(op.act, z[j], out[j]);
        if (d === 0) continue;
        for (let i = 0; i < op.nin; i++) g[i] += d * op.w[i * op.nout + j];
      }
      grad = g;
    } else if (op.op === "conv") {
      const [h, w, cin] = op.inShape;
      const [oh, ow, cout] = op.outShape;
      const { k, stride } = op;
      const top = op.pad === "same" ? samePadding(h, k, stride) : 0;
      const left = op.pad === "same" ? samePadding(w, k, stride) : 0;
      const g = new Float64Array(h * w * cin);
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          const o = (oy * ow + ox) * cout;
          for (let dy = 0; dy < k; dy++) {
            const y = oy * stride + dy - top;
            if (y < 0 || y >= h) continue;
            for (let dx = 0; dx < k; dx++) {
              const xx = ox * stride + dx - left;
              if (xx < 0 || xx >= w) continue;
              for (let ci = 0; ci < cin; ci++) {
                const row = ((dy * k + dx) * cin + ci) * cout;
                let s = 0;
                for (let c = 0; c < cout; c++) {
                  const d = grad[o + c] * activationSlope(op.act, z[o + c], out[o + c]);
                  s += d * op.w[row + c];
                }
                g[(y * w + xx) * cin + ci] += s;
              }
            }
          }
        }
      }
      grad = g;
    } else if (op.op === "pool") {
      const g = new Float64Array(input.length);
      for (let o = 0; o < extra.length; o++) g[extra[o]] += grad[o];
      grad = g;
    } else if (op.op === "scale") {
      grad = grad.map((v) => v * op.factor);
    } // "sub" passes the gradient unchanged
  }
  return Float64Array.from(image, (v, i) => v * grad[i]);
}

// ---------------------------------------------------------------- the view
const instances = new WeakMap(); // parentElement -> the live component, kept across Streamlit's reruns

/** Streamlit's entry point: build the component once per element, then only take in new data. */
export default function mount(component) {
  const { parentElement } = component;
  let live = instances.get(parentElement);
  if (!live) {
    live = new LiveCanvas(parentElement);
    instances.set(parentElement, live);
  }
  live.update(component);
}

class LiveCanvas {
  constructor(root) {
    this.root = root;
    this.$ = (name) => root.querySelector(`[data-part=${name}]`);
    this.canvas = this.$("canvas");
    this.ctx = this.canvas.getContext("2d", { willReadFrequently: true });
    this.overlay = this.$("overlay");
    this.strokes = []; // each stroke: {width, points: [[x, y], ...]}
    this.current = null;
    this.models = [];
    this.results = new Map(); // run -> probabilities for the current drawing
    this.pendingEvent = null; // timeStamp of the first stroke event not yet answered
    this.frame = 0;
    this.othersFrame = 0;
    this.cursor = 0;
    this.fresh = new Set();
    this.timings = []; // ms from a stroke event to the answer on screen (the benchmark reads them)
    this.setState = () => {};
    this.clear();
    this.listen();
    // For tests and the benchmark: the page's live state and its numerical functions.
    window.mlpLabDraw = { live: this, toMnist, forward, saliency, prepareModel };
  }

  update({ data, setStateValue }) {
    this.setState = setStateValue || this.setState;
    const payload = data || {};
    this.center = payload.center !== false;
    this.chosen = payload.chosen;
    this.models = (payload.models || []).map((m) => ({ ...m, ready: prepareModel(m, `${m.run}@${m.created}`) }));
    this.results.clear();
    this.fresh = new Set();
    this.schedule(null);
  }

  // ---------------------------------------------------------- drawing
  listen() {
    const c = this.canvas;
    // Pointer events: mouse, touch and pen alike. touch-action: none (CSS) keeps the page from scrolling instead.
    c.addEventListener("pointerdown", (e) => {
      c.setPointerCapture(e.pointerId);
      this.current = { width: Number(this.$("pen").value), points: [this.point(e)] };
      this.strokes.push(this.current);
      this.drawStroke(this.current);
      this.schedule(e.timeStamp);
    });
    c.addEventListener("pointermove", (e) => {
      if (!this.current) return;
      const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
      for (const ev of events.length ? events : [e]) this.current.points.push(this.point(ev));
      this.drawSegment(this.current, events.length + 1);
      this.schedule(e.timeStamp);
    });
    const end = () => {
      if (!this.current) return;
      this.current = null;
      this.tellServer();
    };
    c.addEventListener("pointerup", end);
    c.addEventListener("pointercancel", end);
    this.$("undo").addEventListener("click", () => {
      this.strokes.pop();
      this.repaint();
      this.schedule(performance.now());
      this.tellServer();
    });
    this.$("clear").addEventListener("click", () => {
      this.clear();
      this.schedule(performance.now());
      this.tellServer();
    });
    this.$("saliency").addEventListener("change", () => this.schedule(performance.now()));
  }

  point(e) {
    const r = this.canvas.getBoundingClientRect();
    return [((e.clientX - r.left) * this.canvas.width) / r.width, ((e.clientY - r.top) * this.canvas.height) / r.height];
  }

  clear() {
    this.strokes = [];
    this.current = null;
    this.repaint();
  }

  repaint() {
    const { ctx, canvas } = this;
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    for (const s of this.strokes) this.drawStroke(s);
  }

  drawStroke(stroke) {
    this.drawSegment(stroke, stroke.points.length);
  }

  /** Draw the last `n` points of a stroke (a round dot for a single point). */
  drawSegment(stroke, n) {
    const { ctx } = this;
    const pts = stroke.points.slice(Math.max(0, stroke.points.length - n));
    ctx.strokeStyle = "#fff";
    ctx.fillStyle = "#fff";
    ctx.lineWidth = stroke.width;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    if (pts.length === 1) {
      ctx.beginPath();
      ctx.arc(pts[0][0], pts[0][1], stroke.width / 2, 0, 2 * Math.PI);
      ctx.fill();
      return;
    }
    ctx.beginPath();
    ctx.moveTo(pts[0][0], pts[0][1]);
    for (const p of pts.slice(1)) ctx.lineTo(p[0], p[1]);
    ctx.stroke();
  }

  /** The server hears about the drawing when a stroke ends (or is undone or cleared): a PNG of the canvas. */
  tellServer() {
    const png = this.strokes.length ? this.canvas.toDataURL("image/png") : null;
    this.setState("drawing", png ? { data: png, strokes: this.strokes.length } : null);
  }

  // --------------------------------------------------------- answering
  /**
   * Answer a stroke event at once (Chromium already delivers pointer moves once per frame, coalesced); anything
   * else (new data from the server) is answered at the next animation frame.
   */
  schedule(eventTime) {
    if (eventTime !== null) {
      if (this.pendingEvent === null) this.pendingEvent = eventTime;
      this.answer();
      return;
    }
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.answer();
    });
  }

  answer() {
    const { width, height } = this.canvas;
    const pixels = this.ctx.getImageData(0, 0, width, height).data;
    const prepared = toMnist(pixels, width, height, this.center);
    this.input = prepared;
    this.fresh = new Set(); // models answered for this very drawing
    const chosen = this.models.find((m) => m.run === this.chosen) || this.models[0];
    let trace = null;
    if (prepared && chosen) {
      const result = forward(chosen.ready, prepared.image);
      this.results.set(chosen.run, result.probs);
      this.fresh.add(chosen.run);
      trace = result.trace;
    }
    this.showInput(prepared);
    this.showAnswer(chosen, prepared);
    this.showNetwork(trace);
    this.showSaliency(trace, prepared, chosen);
    if (this.pendingEvent !== null) {
      // timeStamp and performance.now() share one clock: from the stroke event to this redrawn answer.
      this.timings.push(performance.now() - this.pendingEvent);
      this.pendingEvent = null;
    }
    if (!this.othersFrame) this.answerOthers(prepared, performance.now());
  }

  /**
   * The other listed models, for the table: as many as fit a few ms after each answer, taking turns, so that
   * a long list never delays the chosen model's answer; a model not yet recomputed shows its last answer.
   */
  answerOthers(prepared, start) {
    const n = this.models.length;
    if (prepared) {
      for (let done = 0; done < n && performance.now() - start <= OTHERS_BUDGET_MS; done++) {
        const m = this.models[this.cursor % n];
        this.cursor = (this.cursor + 1) % n;
        if (this.fresh.has(m.run)) continue;
        this.results.set(m.run, forward(m.ready, prepared.image).probs);
        this.fresh.add(m.run);
      }
    }
    this.showTable(prepared);
    if (prepared && this.fresh.size < n && !this.othersFrame) {
      this.othersFrame = requestAnimationFrame(() => {
        this.othersFrame = 0;
        if (this.input) this.answerOthers(this.input, performance.now());
      });
    }
  }

  showInput(prepared) {
    const view = this.$("input");
    const ctx = view.getContext("2d");
    const img = ctx.createImageData(SIDE, SIDE);
    for (let i = 0; i < SIDE * SIDE; i++) {
      const v = prepared ? Math.round(prepared.image[i] * 255) : 0;
      img.data.set([v, v, v, 255], i * 4);
    }
    ctx.putImageData(img, 0, 0);
  }

  showAnswer(chosen, prepared) {
    const digitBox = this.$("digit");
    const bars = this.$("bars");
    const probs = chosen && this.results.get(chosen.run);
    if (!prepared || !probs) {
      digitBox.textContent = "";
      this.$("sure").textContent = this.strokes.length ? "Draw it bigger: that is too small to be a digit." : "";
      bars.replaceChildren();
      return;
    }
    const digit = argmax(probs);
    digitBox.textContent = String(digit);
    this.$("sure").textContent = `${(probs[digit] * 100).toFixed(1)}% sure it is a ${digit}`;
    const rows = [];
    for (let d = 0; d < 10; d++) {
      const row = document.createElement("div");
      row.className = d === digit ? "bar top" : "bar";
      row.innerHTML = `<span>${d}</span><i style="width:${(probs[d] * 100).toFixed(1)}%"></i><b>${(probs[d] * 100).toFixed(1)}%</b>`;
      rows.push(row);
    }
    bars.replaceChildren(...rows);
  }

  /** Each layer's units coloured by activation; the first convolutions' feature maps as small images. */
  showNetwork(trace) {
    const net = this.$("network");
    if (!trace) {
      net.replaceChildren();
      return;
    }
    const parts = [];
    let convs = 0;
    for (const { op, out } of trace) {
      if (op.op === "conv" && convs < 2) {
        convs++;
        parts.push(featureMaps(op, out));
      } else if (op.op === "dense" && op !== trace[trace.length - 1].op) {
        parts.push(unitStrip(op, out));
      }
    }
    net.replaceChildren(...parts);
  }

  showSaliency(trace, prepared, chosen) {
    const o = this.overlay;
    const ctx = o.getContext("2d");
    ctx.clearRect(0, 0, o.width, o.height);
    const on = this.$("saliency").checked;
    this.saliencyShown = false;
    if (!on || !trace || !prepared) return;
    const digit = argmax(this.results.get(chosen.run));
    const map = saliency(trace, digit, prepared.image);
    let peak = 0;
    for (const v of map) peak = Math.max(peak, Math.abs(v));
    if (peak === 0) return;
    const small = document.createElement("canvas");
    small.width = small.height = SIDE;
    const sctx = small.getContext("2d");
    const img = sctx.createImageData(SIDE, SIDE);
    for (let i = 0; i < map.length; i++) {
      const v = map[i] / peak;
      // Red pushes towards the answer, blue against it; transparent where the model takes no notice.
      img.data.set(v >= 0 ? [230, 40, 40, Math.round(230 * v)] : [40, 90, 255, Math.round(-230 * v)], i * 4);
    }
    sctx.putImageData(img, 0, 0);
    const { x, y, scaleX, scaleY } = prepared.place;
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(small, x, y, SIDE * scaleX, SIDE * scaleY);
    this.saliencyShown = true;
    this.saliencyMap = map;
  }

  showTable(prepared) {
    const table = this.$("table");
    if (!prepared || this.models.length < 2) {
      table.replaceChildren();
      return;
    }
    const rows = this.models.map((m) => {
      const probs = this.results.get(m.run);
      const tr = document.createElement("tr");
      if (m.run === this.chosen) tr.className = "chosen";
      const digit = probs ? argmax(probs) : null;
      const cells = [
        m.run === this.chosen ? "✓" : "",
        digit === null ? "…" : String(digit),
        digit === null ? "" : `${(probs[digit] * 100).toFixed(1)}%`,
        m.label || m.run,
      ];
      for (const text of cells) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      }
      return tr;
    });
    const head = document.createElement("tr");
    head.innerHTML = "<th></th><th>says</th><th>sure</th><th>model</th>";
    table.replaceChildren(head, ...rows);
  }
}

function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** A dense layer's units as a strip of cells, brighter the stronger the activation. */
function unitStrip(op, out) {
  const box = document.createElement("div");
  box.className = "layer";
  const n = out.length;
  const cols = Math.min(n, 64);
  const cv = document.createElement("canvas");
  cv.width = cols;
  cv.height = Math.ceil(n / cols);
  const ctx = cv.getContext("2d");
  const img = ctx.createImageData(cv.width, cv.height);
  let peak = 0;
  for (const v of out) peak = Math.max(peak, Math.abs(v));
  for (let i = 0; i < n; i++) img.data.set(heat(peak ? out[i] / peak : 0), i * 4);
  ctx.putImageData(img, 0, 0);
  const label = document.createElement("span");
  label.textContent = `${op.name}: ${n} units`;
  box.append(label, cv);
  return box;
}

/** A convolution's feature maps side by side (at most 16), each scaled to its own brightest value. */
function featureMaps(op, out) {
  const box = document.createElement("div");
  box.className = "layer maps";
  const [h, w, c] = op.outShape;
  const label = document.createElement("span");
  label.textContent = `${op.name}: ${c} feature maps`;
  box.append(label);
  const row = document.createElement("div");
  for (let ch = 0; ch < Math.min(c, 16); ch++) {
    const cv = document.createElement("canvas");
    cv.width = w;
    cv.height = h;
    const ctx = cv.getContext("2d");
    const img = ctx.createImageData(w, h);
    let peak = 0;
    for (let i = 0; i < h * w; i++) peak = Math.max(peak, Math.abs(out[i * c + ch]));
    for (let i = 0; i < h * w; i++) img.data.set(heat(peak ? out[i * c + ch] / peak : 0), i * 4);
    ctx.putImageData(img, 0, 0);
    row.append(cv);
  }
  box.append(row);
  return box;
}

/** Activation in [-1, 1] as a colour: black at 0, warm for positive, blue for negative. */
function heat(v) {
  if (v >= 0) return [Math.round(255 * Math.min(1, 2 * v)), Math.round(255 * Math.max(0, 2 * v - 1)), 40, 255];
  return [20, 60, Math.round(255 * Math.min(1, -v)), 255];
}
