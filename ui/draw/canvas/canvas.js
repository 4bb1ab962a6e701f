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
const TELL_SERVER_AFTER_MS = 500; // pen up this long: the student has stopped
const OTHERS_BUDGET_MS = 3; // per frame, for the models other than the chosen one (the table): short, so that a
// pointer event arriving meanwhile waits little

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

/** 1-D squared distance transform (Felzenszwalb and Huttenlocher) of f into d; v and z are work buffers. */
function dt1d(f, n, d, v, z) {
  let k = 0;
  v[0] = 0;
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
}

/**
 * Whether a cropped mask is a dot: its largest side under DOT_RATIO times its widest stroke, the widest stroke
 * being twice the largest Euclidean distance from ink to background (the mask padded by one pixel), as
 * scipy's distance_transform_edt finds it: exact distances along each column first (two scans), then
 * Felzenszwalb and Huttenlocher's lower envelope along each row.
 */
function isDot(mask, w, h, extent) {
  const pw = w + 2;
  const ph = h + 2;
  const col = new Float64Array(pw * ph); // squared distance to the nearest background pixel in the same column
  const run = new Float64Array(pw);
  for (let y = 1; y < ph - 1; y++) {
    for (let x = 1; x < pw - 1; x++) {
      run[x] = mask[(y - 1) * w + x - 1] ? run[x] + 1 : 0;
      col[y * pw + x] = run[x];
    }
  }
  run.fill(0);
  let bound = 0;
  for (let y = ph - 2; y >= 1; y--) {
    for (let x = 1; x < pw - 1; x++) {
      const i = y * pw + x;
      run[x] = col[i] ? run[x] + 1 : 0;
      const d = Math.min(col[i], run[x]);
      col[i] = d * d;
      if (col[i] > bound) bound = col[i];
    }
  }
  // A distance in 2-D is never above the one along its column: when even that bound is small, no dot.
  if (extent >= DOT_RATIO * 2.0 * Math.sqrt(bound)) return false;
  let best = 0;
  const row = new Float64Array(pw);
  const out = new Float64Array(pw);
  const v = new Int32Array(pw);
  const z = new Float64Array(pw + 1);
  for (let y = 1; y < ph - 1; y++) {
    let any = false;
    for (let x = 0; x < pw; x++) {
      row[x] = col[y * pw + x];
      if (row[x] > best) any = true;
    }
    if (!any) continue; // nothing in this row can beat the best so far
    dt1d(row, pw, out, v, z);
    for (let x = 0; x < pw; x++) if (out[x] > best) best = out[x];
  }
  return extent < DOT_RATIO * 2.0 * Math.sqrt(best);
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

/** NumPy's pairwise summation of a[start, start + n), rounding each addition with `round` (Math.fround: float32). */
function pairwiseSum(a, start, n, round) {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res = round(res + a[start + i]);
    return res;
  }
  if (n <= 128) {
    const r = [];
    for (let j = 0; j < 8; j++) r.push(a[start + j]);
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] = round(r[j] + a[start + i + j]);
    let res = round(round(round(r[0] + r[1]) + round(r[2] + r[3])) + round(round(r[4] + r[5]) + round(r[6] + r[7])));
    for (; i < n; i++) res = round(res + a[start + i]);
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return round(pairwiseSum(a, start, n2, round) + pairwiseSum(a, start + n2, n - n2, round));
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
  // Only the region holding ink (and a margin wider than the two-pixel dilation) can change the result: the
  // rest of the canvas is background. Working on it alone makes each stroke event several times cheaper.
  let top = height;
  let bottom = -1;
  let left = width;
  let right = -1;
  const words = new Uint32Array(rgba.buffer, rgba.byteOffset, width * height); // one pixel per word
  const probe = new Uint8Array(new Uint32Array([0xff000000]).buffer);
  const alphaMask = probe[3] === 0xff ? 0xff000000 : 0x000000ff; // where alpha sits in a word, by byte order
  const colourMask = ~alphaMask >>> 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0, p = y * width; x < width; x++, p++) {
      const word = words[p];
      if (word & alphaMask && word & colourMask) {
        if (y < top) top = y;
        if (y > bottom) bottom = y;
        if (x < left) left = x;
        if (x > right) right = x;
      }
    }
  }
  if (bottom < 0) return null;
  const margin = 3;
  top = Math.max(0, top - margin);
  left = Math.max(0, left - margin);
  bottom = Math.min(height, bottom + 1 + margin);
  right = Math.min(width, right + 1 + margin);
  const w = right - left;
  const h = bottom - top;
  const region = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) region.set(rgba.subarray(((top + y) * width + left) * 4, ((top + y) * width + right) * 4), y * w * 4);
  return inkToMnist(canvasInk(region, w, h), w, h, center, { width, height, top, left });
}

/** to_mnist on the ink map of a region of the canvas (`full`: the canvas' size and where the region lies). */
function inkToMnist(ink, width, height, center, full) {
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
  if (count < Math.max(MIN_INK_PIXELS, 0.0005 * full.width * full.height)) return null;
  bottom += 1;
  right += 1;
  const h = bottom - top;
  const w = right - left;
  const extent = Math.max(h, w);
  if (extent < MIN_EXTENT * Math.min(full.width, full.height)) return null;
  const crop = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) crop[y * w + x] = mask[(top + y) * width + left + x];
  if (isDot(crop, w, h, extent)) return null;
  // Keep the faint anti-aliased rim around the kept strokes: binary_dilation by the 4-neighbour cross, twice,
  // keeps what lies within city-block distance 2 of the mask (two chamfer passes find that distance).
  const grown = new Uint8Array(mask.length); // city-block distance to the mask, capped at 3
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      let d = mask[i] ? 0 : 3;
      if (y > 0 && grown[i - width] + 1 < d) d = grown[i - width] + 1;
      if (x > 0 && grown[i - 1] + 1 < d) d = grown[i - 1] + 1;
      grown[i] = d;
    }
  }
  for (let y = height - 1; y >= 0; y--) {
    for (let x = width - 1; x >= 0; x--) {
      const i = y * width + x;
      let d = grown[i];
      if (y < height - 1 && grown[i + width] + 1 < d) d = grown[i + width] + 1;
      if (x < width - 1 && grown[i + 1] + 1 < d) d = grown[i + 1] + 1;
      grown[i] = d;
    }
  }
  for (let i = 0; i < ink.length; i++) if (grown[i] > 2) ink[i] = 0;
  const out = new Float32Array(SIDE * SIDE);
  if (!center) {
    // The whole canvas, padded to a square (centred) and shrunk to 28x28.
    const side = Math.max(full.width, full.height);
    const square = new Float32Array(side * side);
    const oy = (((side - full.height) / 2) | 0) + full.top;
    const ox = (((side - full.width) / 2) | 0) + full.left;
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) square[(y + oy) * side + x + ox] = ink[y * width + x];
    out.set(normalise(resizeBox(square, side, side, SIDE, SIDE)));
    const s = side / SIDE;
    return { image: out, place: { x: -(ox - full.left), y: -(oy - full.top), scaleX: s, scaleY: s } };
  }
  const box = new Float32Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) box[y * w + x] = ink[(top + y) * width + left + x];
  const factor = BOX_SIDE / extent;
  const sh = Math.max(1, pyRound(h * factor));
  const sw = Math.max(1, pyRound(w * factor));
  const small = normalise(resizeBox(box, h, w, sh, sw));
  // Whole-pixel shift putting the centre of mass within 0.5 px of (14, 14). A symmetric stroke has its centre
  // exactly on a half pixel, where the last bit decides: the sums are NumPy's, bit for bit (scipy's
  // center_of_mass sums the float32 image in float32 and the moments in float64, both pairwise).
  const rows = new Float64Array(sh * sw);
  const cols = new Float64Array(sh * sw);
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < sw; x++) {
      rows[y * sw + x] = small[y * sw + x] * y;
      cols[y * sw + x] = small[y * sw + x] * x;
    }
  }
  const mass = pairwiseSum(small, 0, small.length, f32);
  const my = pairwiseSum(rows, 0, rows.length, Number);
  const mx = pairwiseSum(cols, 0, cols.length, Number);
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
  return { image: out, place: { x: full.left + left - px * scaleX, y: full.top + top - py * scaleY, scaleX, scaleY } };
}

// ------------------------------------------------------------------ models
/** Float32Array of the base64 little-endian float32 values lab.analysis.export.encode wrote. */
function decodeFloats(text) {
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  return new Float32Array(bytes.buffer);
}

// Run key -> ready model, decoded once per page: on the window, so that it outlives a re-mounted component.
const decoded = (globalThis.mlpLabDecoded = globalThis.mlpLabDecoded || new Map());

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

// A convolution's shapes and its top/left zero padding, as the forward pass and the saliency's backward pass
// both walk them.
function convGeometry(op) {
  const [h, w, cin] = op.inShape;
  const [oh, ow, cout] = op.outShape;
  const { k, stride } = op;
  const top = op.pad === "same" ? samePadding(h, k, stride) : 0;
  const left = op.pad === "same" ? samePadding(w, k, stride) : 0;
  return { h, w, cin, oh, ow, cout, k, stride, top, left };
}

function conv(x, op) {
  const { h, w, cin, oh, ow, cout, k, stride, top, left } = convGeometry(op);
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
      const { h, w, cin, oh, ow, cout, k, stride, top, left } = convGeometry(op);
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
    this.computeTimings = [];
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
    // The server sends a model's weights until the page says it holds them ("cached"), then only its name:
    // a rerun after each stroke then carries a few hundred bytes, not megabytes of weights.
    const models = [];
    for (const m of payload.models || []) {
      const key = `${m.run}@${m.created}`;
      if (m.ops || decoded.has(key)) models.push({ ...m, key, ready: prepareModel(m, key) });
    }
    this.models = models;
    const held = models.map((m) => m.key).sort();
    if (held.join("|") !== (payload.cached || []).slice().sort().join("|")) this.setState("cached", held);
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
      clearTimeout(this.telling);
      this.current = { width: Number(this.$("pen").value), points: [this.point(e)] };
      this.strokes.push(this.current);
      this.drawStroke(this.current);
      this.schedule(e.timeStamp);
    });
    // Chromium holds pointermove events back until the next animation frame (up to 16 ms); pointerrawupdate
    // (Chromium, secure pages such as localhost) arrives as soon as the input does. One of the two, never both.
    const moveEvent = "onpointerrawupdate" in window ? "pointerrawupdate" : "pointermove";
    c.addEventListener(moveEvent, (e) => {
      if (!this.current) return;
      const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
      for (const ev of events.length ? events : [e]) this.current.points.push(this.point(ev));
      this.drawSegment(this.current, events.length + 1);
      this.schedule(e.timeStamp);
    });
    // The server hears about the drawing once the student stops: half a second after the pen lifts with no new
    // stroke. Each message reruns the page on the server, and that work, in this page too, would otherwise
    // land between the strokes of a digit drawn in several.
    const end = () => {
      if (!this.current) return;
      this.current = null;
      clearTimeout(this.telling);
      this.telling = setTimeout(() => this.tellServer(), TELL_SERVER_AFTER_MS);
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
    clearTimeout(this.telling);
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
    const begun = performance.now();
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
    this.showNetwork(trace, chosen);
    this.showSaliency(trace, prepared, chosen);
    if (this.pendingEvent !== null) {
      // timeStamp and performance.now() share one clock: from the stroke event to this redrawn answer.
      const now = performance.now();
      this.timings.push(now - this.pendingEvent);
      this.computeTimings.push(now - begun); // the part spent here, without the wait for the main thread
      this.pendingEvent = null;
    }
    // The other models wait for the next frame: the stroke event returns as soon as the chosen model answered.
    if (!this.othersFrame) {
      this.othersFrame = requestAnimationFrame(() => {
        this.othersFrame = 0;
        this.answerOthers(this.input, performance.now());
      });
    }
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
    this.inputPixels = this.inputPixels || ctx.createImageData(SIDE, SIDE);
    const px = this.inputPixels.data;
    for (let i = 0; i < SIDE * SIDE; i++) {
      const v = prepared ? Math.round(prepared.image[i] * 255) : 0;
      px[i * 4] = px[i * 4 + 1] = px[i * 4 + 2] = v;
      px[i * 4 + 3] = 255;
    }
    ctx.putImageData(this.inputPixels, 0, 0);
  }

  showAnswer(chosen, prepared) {
    const probs = chosen && this.results.get(chosen.run);
    const bars = this.$("bars");
    if (!prepared || !probs) {
      this.$("digit").textContent = "";
      this.$("sure").textContent = this.strokes.length ? "Draw it bigger: that is too small to be a digit." : "";
      bars.hidden = true;
      return;
    }
    if (!this.barRows) {
      // Built once; each answer only changes widths and texts (cheaper than new elements on every stroke event).
      this.barRows = [];
      for (let d = 0; d < 10; d++) {
        const row = document.createElement("div");
        row.innerHTML = `<span>${d}</span><i></i><b></b>`;
        bars.append(row);
        this.barRows.push({ row, bar: row.children[1], text: row.children[2] });
      }
    }
    bars.hidden = false;
    const digit = argmax(probs);
    this.$("digit").textContent = String(digit);
    this.$("sure").textContent = `${(probs[digit] * 100).toFixed(1)}% sure it is a ${digit}`;
    this.barRows.forEach(({ row, bar, text }, d) => {
      row.className = d === digit ? "bar top" : "bar";
      bar.style.width = `${(probs[d] * 100).toFixed(1)}%`;
      text.textContent = `${(probs[d] * 100).toFixed(1)}%`;
    });
  }

  /** Each layer's units coloured by activation; the first convolutions' feature maps as small images. */
  showNetwork(trace, chosen) {
    const net = this.$("network");
    if (!trace) {
      net.hidden = true;
      return;
    }
    net.hidden = false;
    if (this.networkOf !== chosen) {
      // New elements only when the chosen model changes; every stroke event repaints them in place.
      this.networkOf = chosen;
      this.painters = [];
      const parts = [];
      let convs = 0;
      trace.forEach(({ op }, t) => {
        if (op.op === "conv" && convs < 2) {
          convs++;
          const view = featureMaps(op);
          parts.push(view.box);
          this.painters.push({ t, paint: view.paint });
        } else if (op.op === "dense" && t < trace.length - 1) {
          const view = unitStrip(op);
          parts.push(view.box);
          this.painters.push({ t, paint: view.paint });
        }
      });
      net.replaceChildren(...parts);
    }
    for (const { t, paint } of this.painters) paint(trace[t].out);
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

  /** Every listed model's answer: rows built when the list changes, their texts updated after each answer. */
  showTable(prepared) {
    const table = this.$("table");
    if (!prepared || this.models.length < 2) {
      table.hidden = true;
      return;
    }
    table.hidden = false;
    if (this.tableOf !== this.models) {
      this.tableOf = this.models;
      const head = document.createElement("tr");
      head.innerHTML = "<th></th><th>says</th><th>sure</th><th>model</th>";
      this.tableRows = this.models.map((m) => {
        const tr = document.createElement("tr");
        if (m.run === this.chosen) tr.className = "chosen";
        const cells = [m.run === this.chosen ? "✓" : "", "", "", m.label || m.run].map((text) => {
          const td = document.createElement("td");
          td.textContent = text;
          tr.appendChild(td);
          return td;
        });
        return { tr, says: cells[1], sure: cells[2], run: m.run };
      });
      table.replaceChildren(head, ...this.tableRows.map((r) => r.tr));
    }
    for (const { says, sure, run } of this.tableRows) {
      const probs = this.results.get(run);
      const digit = probs ? argmax(probs) : null;
      says.textContent = digit === null ? "…" : String(digit);
      sure.textContent = digit === null ? "" : `${(probs[digit] * 100).toFixed(1)}%`;
    }
  }
}

function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** A dense layer's units as a strip of cells, brighter the stronger the activation: {box, paint(out)}. */
function unitStrip(op) {
  const box = document.createElement("div");
  box.className = "layer";
  const n = op.nout;
  const cv = document.createElement("canvas");
  cv.width = Math.min(n, 64);
  cv.height = Math.ceil(n / cv.width);
  const ctx = cv.getContext("2d");
  const img = ctx.createImageData(cv.width, cv.height);
  const label = document.createElement("span");
  label.textContent = `${op.name}: ${n} units`;
  box.append(label, cv);
  const paint = (out) => {
    let peak = 0;
    for (const v of out) peak = Math.max(peak, Math.abs(v));
    for (let i = 0; i < n; i++) img.data.set(heat(peak ? out[i] / peak : 0), i * 4);
    ctx.putImageData(img, 0, 0);
  };
  return { box, paint };
}

/** A convolution's feature maps side by side (at most 16), each scaled to its own brightest value. */
function featureMaps(op) {
  const box = document.createElement("div");
  box.className = "layer maps";
  const [h, w, c] = op.outShape;
  const label = document.createElement("span");
  label.textContent = `${op.name}: ${c} feature maps`;
  const row = document.createElement("div");
  box.append(label, row);
  const maps = [];
  for (let ch = 0; ch < Math.min(c, 16); ch++) {
    const cv = document.createElement("canvas");
    cv.width = w;
    cv.height = h;
    const ctx = cv.getContext("2d");
    maps.push({ ctx, img: ctx.createImageData(w, h) });
    row.append(cv);
  }
  const paint = (out) => {
    maps.forEach(({ ctx, img }, ch) => {
      let peak = 0;
      for (let i = 0; i < h * w; i++) peak = Math.max(peak, Math.abs(out[i * c + ch]));
      for (let i = 0; i < h * w; i++) img.data.set(heat(peak ? out[i * c + ch] / peak : 0), i * 4);
      ctx.putImageData(img, 0, 0);
    });
  };
  return { box, paint };
}

/** Activation in [-1, 1] as a colour: black at 0, warm for positive, blue for negative. */
function heat(v) {
  if (v >= 0) return [Math.round(255 * Math.min(1, 2 * v)), Math.round(255 * Math.max(0, 2 * v - 1)), 40, 255];
  return [20, 60, Math.round(255 * Math.min(1, -v)), 255];
}
